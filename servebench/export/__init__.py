"""Artifacts: from one set of PyTorch weights, a TorchServe .mar and a TF SavedModel, checked.

`exporter` drives it (and imports torch); `layout` says where each artifact goes and imports
nothing heavy, so that a Locust worker or the report can find artifacts without loading torch.
"""
