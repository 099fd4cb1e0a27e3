"""`srzoo list archs` shows every spandrel arch with its distribution and license, without importing spandrel."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from srzoo_spandrel._specs import SPECS


def test_list_archs_shows_distribution_and_license_and_stays_lazy() -> None:
    code = textwrap.dedent(
        """
        import sys
        from srzoo.cli import main
        main(["list", "archs"])
        print("IMPORTED", sorted(m for m in sys.modules if m == "spandrel" or m.startswith("spandrel.")))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "IMPORTED []"  # listing names 33 archs without loading spandrel's modules
    rows = {line.split()[0]: line.split()[1:] for line in lines[:-1]}
    ours = {name: rest for name, rest in rows.items() if rest[0] == "srzoo-spandrel"}
    assert len(ours) >= 30 and set(ours) == set(SPECS)
    for name, (_, license_) in ours.items():
        assert license_ == SPECS[name].license
    assert ours["swinir"][1] == "Apache-2.0" and ours["hat"][1] == "MIT"
