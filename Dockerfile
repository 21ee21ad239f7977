# duanxin: one image for every role (documented; not exercised by the test suite).
#   docker build -t duanxin .
#   docker compose up        (see compose.yaml)
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --system duanxin
USER duanxin
ENV DUANXIN_HOST=0.0.0.0
EXPOSE 8080
# SIGTERM (docker stop) drains; give it more than the 10 s grace: docker stop -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["duanxin"]
CMD ["serve"]
