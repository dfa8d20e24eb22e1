"""The ECS agent's task credentials endpoint, as a job sees it: the job role's temporary
credentials at AWS_CONTAINER_CREDENTIALS_FULL_URI. Jobs get no other credentials, so every AWS
call a local job makes goes out as its role does on Batch (moto does not enforce IAM)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from .moto_server import CREDENTIALS


class CredentialsEndpoint:
    """The ECS agent's task credentials endpoint, as a job sees it: the job role's temporary
    credentials at AWS_CONTAINER_CREDENTIALS_FULL_URI. Jobs get no other credentials and
    instance metadata is off for them, so every AWS call a job makes proves it ran as its role."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        endpoint = self
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                endpoint.requests.append(self.path)
                expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                body = json.dumps({"AccessKeyId": CREDENTIALS["aws_access_key_id"],
                                   "SecretAccessKey": CREDENTIALS["aws_secret_access_key"],
                                   "Token": "job-role-session", "Expiration": expiration}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def uri_for(self, role_arn: str) -> str:
        return f"http://localhost:{self.port}/v2/credentials/{role_arn.rsplit('/', 1)[-1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
