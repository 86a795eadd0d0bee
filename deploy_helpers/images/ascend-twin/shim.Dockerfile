# One seed image of the Ascend twin: the engine base plus one engine shim as the command the
# seed runs (vllm-mindspore for seed 000, vllm for seed 003) and the helper it imports.
# Built by build.sh (legacy builder, FROM the local engine base).
ARG ENGINE
FROM ${ENGINE}
ARG COMMAND
COPY ascend_twin.py /usr/local/bin/ascend_twin.py
COPY ${COMMAND} /usr/local/bin/${COMMAND}
