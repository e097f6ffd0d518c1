# Stand-in for tensorflow/serving:2.20.0: NOT TensorFlow Serving. servebench's TF Serving
# emulator (TensorFlow runtime, TF Serving's REST and gRPC APIs) installed as
# /usr/bin/tensorflow_model_server behind upstream's /usr/bin/tf_serving_entrypoint.sh. It
# takes the real binary's flags and refuses the ones it does not implement; every reply names
# the emulator, so results detect it at run time.
ARG HARNESS=servebench/harness:0.1.0
# checkov:skip=CKV_DOCKER_2:a stand-in reproduces the official image it replaces, which has none; compose's healthcheck covers the service
# checkov:skip=CKV_DOCKER_7:the base is the harness image of this very checkout, passed as a build argument
# checkov:skip=CKV_DOCKER_8:the official tensorflow/serving image runs as root; services/tfserving/Dockerfile sets a high uid
FROM ${HARNESS}
LABEL org.servebench.stand-in="true" \
      org.servebench.stands-in-for="tensorflow/serving:2.20.0"
# Root, as in the official image; servebench's own tfserving image switches to uid 10001.
# hadolint ignore=DL3002
USER root
COPY tensorflow_model_server tf_serving_entrypoint.sh /usr/bin/
RUN chmod 755 /usr/bin/tensorflow_model_server /usr/bin/tf_serving_entrypoint.sh \
    && mkdir -p /models/model
ENV MODEL_BASE_PATH=/models MODEL_NAME=model
WORKDIR /
EXPOSE 8500 8501
ENTRYPOINT ["/usr/bin/tf_serving_entrypoint.sh"]
