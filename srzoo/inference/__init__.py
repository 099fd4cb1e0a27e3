"""Running trained models: load_model/SRModel, the tiled runner, CPU fast path, export and interpolation."""
