"""The TF Serving emulator: a stand-in that speaks TensorFlow Serving's REST and gRPC APIs.

It exists because no ``tensorflow_model_server`` binary can be obtained on the machines where
servebench is developed and tested. It serves the same SavedModels with the TensorFlow runtime,
answers TF Serving's paths, request forms, error format and status codes, and exports TF Serving's
Prometheus metric names, so that clients, Locust users, scraping and the report can be tested end
to end. It is NOT TensorFlow Serving: its latency and throughput say nothing about TF Serving's,
and every result it produces is labelled with IMPLEMENTATION.
"""

IMPLEMENTATION = "tfserving-emulator"
