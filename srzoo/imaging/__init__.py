"""Images: MATLAB-exact bicubic resize, and reading/writing image files for inference and datasets."""
