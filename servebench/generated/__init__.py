"""gRPC stubs generated from protos/ by the build (scripts/install.sh); not committed."""
