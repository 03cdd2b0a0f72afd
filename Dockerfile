# One image for the server side; the compose file picks the command (API or alert worker).
# No signing key is built in: `fleetmon serve` refuses to start without FLEETMON_SECRET_KEY.

# The agent distribution the API serves to installers (/install.sh, /agent/): the agent's
# wheel and its dependencies' for CPython 3.9-3.13 on x86_64 and aarch64 glibc Linux.
FROM python:3.11-slim AS agent-dist
WORKDIR /src
COPY collector ./collector
COPY deploy/agent-dist.sh ./deploy/
RUN deploy/agent-dist.sh /agent-dist

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir uv \
 && useradd --system --uid 10001 --home-dir /srv/fleetmon --create-home fleetmon
WORKDIR /srv/fleetmon/app
COPY pyproject.toml uv.lock ./
COPY collector ./collector
COPY database ./database
COPY api-server ./api-server
COPY alert-manager ./alert-manager
RUN uv sync --frozen --no-dev --package fleetmon-api --package fleetmon-alerts \
 && chown -R fleetmon /srv/fleetmon
COPY --from=agent-dist /agent-dist /srv/fleetmon/agent-dist
USER fleetmon
ENV PATH=/srv/fleetmon/app/.venv/bin:$PATH FLEETMON_DATA_DIR=/srv/fleetmon/data \
    FLEETMON_AGENT_DIST_DIR=/srv/fleetmon/agent-dist
EXPOSE 8080
CMD ["fleetmon", "serve", "--host", "0.0.0.0", "--port", "8080"]
