"""Template matching of novel objects (TraM3D / template-pose): local feature extractors with a descriptor head,
the masked cosine similarity between a query and a rendered template, InfoNCE fine-tuning and retrieval over a
cached template bank."""
