FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cti ./cti
COPY web ./web
RUN pip install --no-cache-dir .
EXPOSE 8080
CMD ["sh", "-c", "cti db upgrade -c /etc/cti/cti.toml && exec cti serve -c /etc/cti/cti.toml"]
