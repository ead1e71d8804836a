"""aegroup labelling companion: review and correct grouped poses, export them as COCO training data."""
