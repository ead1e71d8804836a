"""File formats: COCO keypoints, results files, projects; torch-free, lossless round trips."""
