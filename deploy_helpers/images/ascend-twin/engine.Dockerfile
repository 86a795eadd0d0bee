# The Ascend twin's engine base: the vllm-cpu runtime root filesystem (Debian bookworm minbase,
# built by ../vllm-cpu/build.sh) with this machine's Python and the suite's venv copied in at
# their own absolute paths, so the venv's shebangs and pyvenv.cfg hold unchanged.
# Built by build.sh from a context it streams (no registry, legacy builder).
ARG RUNTIME
FROM ${RUNTIME}
ARG PYTHON_HOME
ARG VENV
COPY ${PYTHON_HOME} ${PYTHON_HOME}
COPY ${VENV} ${VENV}
# the seeds start their containers with /bin/bash (seed 000 §4) or bash (seed 003 §3)
RUN /bin/bash -c "${VENV}/bin/python -c 'import json, ssl, sqlite3, ctypes'"
ENTRYPOINT []
CMD ["/bin/bash"]
