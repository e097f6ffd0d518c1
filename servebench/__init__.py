"""servebench: TorchServe vs TF Serving on the same model, measured."""

__version__ = "0.1.0"
