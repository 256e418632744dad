# ldapdiag as a sidecar on the mail server's compose network (README: "Where to run it"):
#   docker build -t ldapdiag .
#   docker run --rm --network <compose network> -v ./docker-data/dms/config:/tmp/docker-mailserver:ro \
#     --env-file mailserver.env ldapdiag resolve alice@example.org
# Debian 12 with Python 3.11, as in the docker-mailserver v15 image.
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /usr/src/ldapdiag
COPY pyproject.toml README.md ./
COPY ldapdiag ./ldapdiag
RUN pip install . && rm -rf /usr/src/ldapdiag
WORKDIR /

ENTRYPOINT ["ldapdiag"]
CMD ["--help"]
