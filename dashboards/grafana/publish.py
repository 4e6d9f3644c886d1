"""`socpipe dashboards push`: the dashboards into a running Grafana through its HTTP API (grafana-client).

Used endpoints: GET /api/folders/{uid}, POST /api/folders (when missing), POST /api/dashboards/db
(overwrite). The token comes from the environment (SOCPIPE__GRAFANA__TOKEN) and is never printed.
"""

from __future__ import annotations

from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError


def push(url: str, token: str, folder: str, boards: dict[str, dict[str, Any]]) -> list[str]:
    """Create the folder if needed and write every dashboard into it; returns the dashboards' URLs."""
    if not token:
        raise ValueError("no Grafana token: set SOCPIPE__GRAFANA__TOKEN (a service-account token)")
    api = GrafanaApi.from_url(url, credential=token)
    try:
        api.folder.get_folder(folder)
    except GrafanaClientError as error:
        if error.status_code != 404:
            raise
        api.folder.create_folder(folder, uid=folder)
    urls = []
    for board in boards.values():
        answer = api.dashboard.update_dashboard({"dashboard": {**board, "id": None}, "folderUid": folder,
                                                 "overwrite": True, "message": "socpipe dashboards push"})
        urls.append(answer.get("url", board["uid"]))
    return urls
