#!/bin/bash
# Bootstraps the placeholder payment API: an HTTP service on the API port answering GET /health with JSON.
# Rendered by the user-data block, which substitutes the markers between double at-signs and base64-encodes the result.
# Shell variables are written $NAME, never with braces: the script must contain no Terraform
# interpolation sequence (seed failure 2).
set -euo pipefail

API_PORT=@@API_PORT@@
SERVICE_NAME=@@SERVICE_NAME@@
ENVIRONMENT=@@ENVIRONMENT@@

install -d -m 0755 /opt/payment-api
cat > /opt/payment-api/server.py <<'PYEOF'
"""Placeholder payment API: replaced by the real service in a later release."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ["API_PORT"])
BODY = json.dumps({"status": "ok", "service": os.environ["SERVICE_NAME"],
                   "environment": os.environ["ENVIRONMENT"]}).encode()


class Handler(BaseHTTPRequestHandler):
    server_version = "payment-api"

    def do_GET(self):
        if self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        else:
            self.send_error(404)


ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
PYEOF

useradd --system --no-create-home --shell /sbin/nologin payment-api || true

cat > /etc/systemd/system/payment-api.service <<UNITEOF
[Unit]
Description=Payment API
After=network-online.target

[Service]
User=payment-api
Environment=API_PORT=$API_PORT
Environment=SERVICE_NAME=$SERVICE_NAME
Environment=ENVIRONMENT=$ENVIRONMENT
ExecStart=/usr/bin/python3 /opt/payment-api/server.py
Restart=always
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true

[Install]
WantedBy=multi-user.target
UNITEOF

systemctl daemon-reload
systemctl enable --now payment-api.service
