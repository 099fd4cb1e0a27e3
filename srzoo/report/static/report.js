/* srzoo report pages: sortable tables and the image comparison view. Hand-written, no framework, no network:
   the page must work when opened from file:// with no server. */
(function () {
  "use strict";

  // ---- sortable tables: click a header; numbers sort by data-v, missing values (data-v="") go last ----
  function cellKey(row, col) {
    var cell = row.cells[col];
    if (!cell) return "";
    var v = cell.getAttribute("data-v");
    if (v === null) return cell.textContent.trim();
    return v === "" ? NaN : parseFloat(v);
  }

  function sortBy(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = cellKey(r1, col), b = cellKey(r2, col);
      if (typeof a === "number" && typeof b === "number") {
        if (isNaN(a)) return isNaN(b) ? 0 : 1;
        if (isNaN(b)) return -1;
        return asc ? a - b : b - a;
      }
      return asc ? String(a).localeCompare(String(b)) : String(b).localeCompare(String(a));
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  // ---- the comparison view: one shared view state (centre, zoom) per image, drawn in every viewport ----
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  // Show the image's (cx, cy) at the viewport centre at zoom z (CSS px per HR px). Every variant is drawn at
  // the HR grid's size, so an LR image (fewer pixels) is magnified by the scale too: nearest neighbour via
  // image-rendering: pixelated. Integer offsets keep zoomed pixels exact.
  // The viewport may sit at a fractional position (text above it has fractional line heights): shift by that
  // fraction so that the image's pixels start on a device pixel.
  function place(img, w, h, z, cx, cy, W, H) {
    var dw = w * z, dh = h * z, d = window.devicePixelRatio || 1;
    var left = dw <= W ? (W - dw) / 2 : clamp(W / 2 - cx * z, W - dw, 0);
    var top = dh <= H ? (H - dh) / 2 : clamp(H / 2 - cy * z, H - dh, 0);
    var r = img.parentNode.getBoundingClientRect();
    var fx = (Math.round(r.left * d) - r.left * d) / d, fy = (Math.round(r.top * d) - r.top * d) / d;
    img.style.width = dw + "px";
    img.style.height = dh + "px";
    img.style.transform = "translate(" + (Math.round(left) + fx) + "px," + (Math.round(top) + fy) + "px)";
  }

  function Compare(root) {
    var self = this;
    this.root = root;
    this.w = +root.getAttribute("data-w");
    this.h = +root.getAttribute("data-h");
    var r = root.getAttribute("data-region").split(",").map(Number);
    this.side = r[2];
    this.cx = r[0] + r[2] / 2;
    this.cy = r[1] + r[2] / 2;
    this.split = 0.5;
    this.q = function (sel) { return root.querySelector(sel); };
    this.selA = this.q(".cmp-a");
    this.selB = this.q(".cmp-b");
    this.selZ = this.q(".cmp-z");
    this.range = this.q(".cmp-range");
    this.slider = this.q(".cmp-slider");
    this.imgA = this.q(".cmp-clip img");
    this.imgB = this.q(".cmp-slider > img");
    this.clip = this.q(".cmp-clip");
    this.handle = this.q(".cmp-handle");
    this.overview = this.q(".cmp-overview");
    this.box = this.q(".cmp-box");
    this.tiles = Array.prototype.slice.call(root.querySelectorAll(".cmp-tiles .vp"));
    this.selA.addEventListener("change", function () { self.choose(); });
    this.selB.addEventListener("change", function () { self.choose(); });
    this.selZ.addEventListener("change", function () { self.update(); });
    this.range.addEventListener("input", function () { self.split = self.range.value / 1000; self.update(); });
    this.dragSplit(this.handle);
    this.dragPan(this.slider, function () { return self.zoom(); });
    this.tiles.forEach(function (vp) { self.dragPan(vp, function () { return self.tileZoom(vp); }); });
    this.dragOverview();
    this.choose();
  }

  // The slider view is as large as the zoomed image, within MAX_W x MAX_H and the width the page allows.
  var MAX_W = 640, MAX_H = 480;
  Compare.prototype.fitSlider = function () {
    var avail = Math.max(160, Math.min(MAX_W, this.root.clientWidth - 200));
    var v = this.selZ.value, W, H;
    if (v === "fit") {
      var k = Math.min(avail / this.w, MAX_H / this.h);
      W = this.w * k;
      H = this.h * k;
    } else {
      W = Math.min(avail, this.w * +v);
      H = Math.min(MAX_H, this.h * +v);
    }
    this.slider.style.width = Math.round(Math.max(W, 96)) + "px";
    this.slider.style.height = Math.round(Math.max(H, 96)) + "px";
  };

  Compare.prototype.zoom = function () {
    var v = this.selZ.value;
    if (v !== "fit") return +v;
    return Math.min(this.slider.clientWidth / this.w, this.slider.clientHeight / this.h);
  };

  // Tiles follow the chosen zoom; with "fit" they show the marked region filling the tile.
  Compare.prototype.tileZoom = function (vp) {
    var v = this.selZ.value;
    return v === "fit" ? vp.clientWidth / this.side : +v;
  };

  Compare.prototype.choose = function () {
    var a = this.selA.options[this.selA.selectedIndex], b = this.selB.options[this.selB.selectedIndex];
    if (this.imgA.getAttribute("src") !== a.value) this.imgA.src = a.value;
    if (this.imgB.getAttribute("src") !== b.value) this.imgB.src = b.value;
    this.q(".cmp-tag.a").textContent = a.textContent;
    this.q(".cmp-tag.b").textContent = b.textContent;
    this.update();
  };

  Compare.prototype.update = function () {
    this.fitSlider();
    var self = this, W = this.slider.clientWidth, H = this.slider.clientHeight, z = this.zoom();
    this.cx = clamp(this.cx, 0, this.w);
    this.cy = clamp(this.cy, 0, this.h);
    place(this.imgA, this.w, this.h, z, this.cx, this.cy, W, H);
    place(this.imgB, this.w, this.h, z, this.cx, this.cy, W, H);
    this.slider.classList.toggle("px", z >= 1);
    var x = Math.round(this.split * W);
    this.clip.style.clipPath = "inset(0 " + (W - x) + "px 0 0)";
    this.handle.style.left = x + "px";
    this.range.value = Math.round(this.split * 1000);
    var tz = 1, T = 1;
    this.tiles.forEach(function (vp) {
      T = vp.clientWidth;
      tz = self.tileZoom(vp);
      vp.classList.toggle("px", tz >= 1);
      place(vp.querySelector("img"), self.w, self.h, tz, self.cx, self.cy, T, vp.clientHeight);
    });
    // The overview marks the region the tiles show.
    var k = this.overview.clientWidth / this.w, side = T / tz;
    var bx = this.w * tz <= T ? 0 : clamp(this.cx - side / 2, 0, this.w - side);
    var by = this.h * tz <= T ? 0 : clamp(this.cy - side / 2, 0, this.h - side);
    this.box.style.left = bx * k + "px";
    this.box.style.top = by * k + "px";
    this.box.style.width = Math.min(side, this.w) * k + "px";
    this.box.style.height = Math.min(side, this.h) * k + "px";
  };

  function drag(el, onMove) {
    el.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      e.stopPropagation();
      el.setPointerCapture(e.pointerId);
      var last = { x: e.clientX, y: e.clientY };
      onMove(e, 0, 0);
      function move(ev) {
        onMove(ev, ev.clientX - last.x, ev.clientY - last.y);
        last = { x: ev.clientX, y: ev.clientY };
      }
      function up() {
        el.removeEventListener("pointermove", move);
        el.removeEventListener("pointerup", up);
        el.removeEventListener("pointercancel", up);
      }
      el.addEventListener("pointermove", move);
      el.addEventListener("pointerup", up);
      el.addEventListener("pointercancel", up);
    });
  }

  Compare.prototype.dragSplit = function (el) {
    var self = this;
    drag(el, function (e) {
      var rect = self.slider.getBoundingClientRect();
      self.split = clamp((e.clientX - rect.left) / rect.width, 0, 1);
      self.update();
    });
  };

  // Dragging any zoomed viewport pans them all (one shared centre); in "fit" the slider drag moves the split.
  Compare.prototype.dragPan = function (el, zoomOf) {
    var self = this;
    drag(el, function (e, dx, dy) {
      if (el === self.slider && self.selZ.value === "fit") {
        var rect = el.getBoundingClientRect();
        self.split = clamp((e.clientX - rect.left) / rect.width, 0, 1);
      } else {
        var z = zoomOf();
        self.cx -= dx / z;
        self.cy -= dy / z;
      }
      self.update();
    });
  };

  Compare.prototype.dragOverview = function () {
    var self = this;
    drag(this.overview, function (e) {
      var rect = self.overview.getBoundingClientRect();
      self.cx = (e.clientX - rect.left) / rect.width * self.w;
      self.cy = (e.clientY - rect.top) / rect.height * self.h;
      self.update();
    });
  };

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("th.sortable"), function (th) {
      th.addEventListener("click", function () { sortBy(th); });
    });
    var views = Array.prototype.map.call(document.querySelectorAll(".cmp"), function (el) {
      return new Compare(el);
    });
    function all() { views.forEach(function (v) { v.update(); }); }
    window.addEventListener("resize", all);
    window.addEventListener("load", all);  // fonts and images above may have moved the viewports
    document.documentElement.setAttribute("data-ready", String(views.length));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
