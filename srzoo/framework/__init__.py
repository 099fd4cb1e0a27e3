"""The framework plugins plug into: registries, entry points, descriptors, build, weights, downloads, atomic files."""
