# crossload's demo target (the built-in test service) as the stack's optional "demo" service:
#   invoke stack.up --profile demo         # builds crossload-demo-target:local from this checkout when missing
#   invoke stack.up --profile demo --build # rebuild after changing the code
# The build context is the repository; target.Dockerfile.dockerignore keeps it to what `pip install .` needs.
FROM python:3.11-slim
WORKDIR /build
COPY pyproject.toml setup.py MANIFEST.in README.md .env.example tasks.py ./
COPY src/ src/
COPY templates/ templates/
COPY locust/ locust/
COPY k6/ k6/
COPY scenarios/ scenarios/
COPY docs/ docs/
RUN pip install --no-cache-dir . && cd / && rm -rf /build
WORKDIR /
USER nobody
EXPOSE 8089
CMD ["crossload", "target", "--host", "0.0.0.0", "--port", "8089"]
