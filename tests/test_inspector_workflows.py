"""Workflows as the inspector shows them: instances by status, an instance's steps, and the
instance actions (pause, resume, terminate) the page offers."""

from __future__ import annotations

from pathlib import Path

from test_inspector_support import API, inspected


async def test_instances_and_their_steps(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        await shop.session.timers.run_due()
        (workflow,) = (await shop.get("workflows"))["workflows"]
        assert workflow == {"name": "export", "instances": 1, "by_status": {"waiting": 1}}
        (instance,) = (await shop.get("workflows/export/instances"))["instances"]
        assert (instance["id"], instance["status"], instance["steps"]) == ("export-1", "waiting", 2)
        shown = await shop.get("workflows/export/instances/export-1")
        assert shown["params"] == {"month": "2026-01"}
        assert [(s["name"], s["type"], s["outcome"]) for s in shown["steps"]] == [
            ("collect orders", "do", "ok"),
            ("wait for approval", "waitForEvent", "waiting"),
        ]


async def test_pause_resume_and_terminate_an_instance(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        await shop.session.timers.run_due()
        paused = await shop.post("workflows/export/instances/export-1/pause")
        assert paused.status_code == 200 and paused.json()["status"] in ("paused", "waitingForPause")
        resumed = await shop.post("workflows/export/instances/export-1/resume")
        assert resumed.status_code == 200
        terminated = await shop.post("workflows/export/instances/export-1/terminate")
        assert terminated.json()["status"] == "terminated"
        again = await shop.post("workflows/export/instances/export-1/terminate")
        assert again.status_code == 409 and again.json()["error"]["code"] == "workflow-state"
        titles = [
            entry["title"] for entry in (await shop.get("timeline"))["entries"] if entry["kind"] == "action"
        ]
        assert titles[-1] == "Terminate export instance export-1"


async def test_unknown_workflows_instances_and_actions(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        assert (await shop.client.get(API + "workflows/nope/instances")).status_code == 404
        assert (await shop.client.get(API + "workflows/export/instances/nope")).status_code == 404
        await shop.visit("/seed")
        assert (await shop.post("workflows/export/instances/export-1/explode")).status_code == 404
        assert (await shop.client.post(API + "workflows/export/instances/export-1/pause")).status_code == 403
