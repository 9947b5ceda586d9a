"""The widgets of the jobs screen: status header, jobs table, job detail."""

from __future__ import annotations

from tui.widgets.job_detail import JobDetail, SliceRow
from tui.widgets.jobs_table import JobsTable
from tui.widgets.status_header import StatusHeader

__all__ = ["JobDetail", "JobsTable", "SliceRow", "StatusHeader"]
