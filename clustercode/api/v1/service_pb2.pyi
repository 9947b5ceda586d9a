from clustercode.api.v1 import jobs_pb2 as _jobs_pb2
from clustercode.api.v1 import library_pb2 as _library_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("version", "executor", "executor_healthy", "executor_message", "redis_healthy", "redis_message", "queue_depth", "active_jobs", "job_counts", "scan", "pause")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_HEALTHY_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REDIS_HEALTHY_FIELD_NUMBER: _ClassVar[int]
    REDIS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_JOBS_FIELD_NUMBER: _ClassVar[int]
    JOB_COUNTS_FIELD_NUMBER: _ClassVar[int]
    SCAN_FIELD_NUMBER: _ClassVar[int]
    PAUSE_FIELD_NUMBER: _ClassVar[int]
    version: str
    executor: str
    executor_healthy: bool
    executor_message: str
    redis_healthy: bool
    redis_message: str
    queue_depth: int
    active_jobs: int
    job_counts: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.JobStateCount]
    scan: _library_pb2.ScanProgress
    pause: _jobs_pb2.SchedulerPause
    def __init__(self, version: _Optional[str] = ..., executor: _Optional[str] = ..., executor_healthy: _Optional[bool] = ..., executor_message: _Optional[str] = ..., redis_healthy: _Optional[bool] = ..., redis_message: _Optional[str] = ..., queue_depth: _Optional[int] = ..., active_jobs: _Optional[int] = ..., job_counts: _Optional[_Iterable[_Union[_jobs_pb2.JobStateCount, _Mapping]]] = ..., scan: _Optional[_Union[_library_pb2.ScanProgress, _Mapping]] = ..., pause: _Optional[_Union[_jobs_pb2.SchedulerPause, _Mapping]] = ...) -> None: ...

class ScanLibraryRequest(_message.Message):
    __slots__ = ("max_decisions",)
    MAX_DECISIONS_FIELD_NUMBER: _ClassVar[int]
    max_decisions: int
    def __init__(self, max_decisions: _Optional[int] = ...) -> None: ...

class ScanLibraryResponse(_message.Message):
    __slots__ = ("counts", "decisions", "decisions_truncated")
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[_library_pb2.DecisionCount]
    decisions: _containers.RepeatedCompositeFieldContainer[_library_pb2.Decision]
    decisions_truncated: bool
    def __init__(self, counts: _Optional[_Iterable[_Union[_library_pb2.DecisionCount, _Mapping]]] = ..., decisions: _Optional[_Iterable[_Union[_library_pb2.Decision, _Mapping]]] = ..., decisions_truncated: _Optional[bool] = ...) -> None: ...

class SubmitFileRequest(_message.Message):
    __slots__ = ("path", "profile", "priority", "force")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    path: str
    profile: str
    priority: int
    force: bool
    def __init__(self, path: _Optional[str] = ..., profile: _Optional[str] = ..., priority: _Optional[int] = ..., force: _Optional[bool] = ...) -> None: ...

class SubmitFileResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class ExplainFileRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ExplainFileResponse(_message.Message):
    __slots__ = ("path", "profile", "origins", "output", "decision", "skip_reason", "slices", "frames", "values", "duration_seconds")
    class OriginsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ORIGINS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    SLICES_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    path: str
    profile: str
    origins: _containers.ScalarMap[str, str]
    output: str
    decision: _library_pb2.Decision
    skip_reason: str
    slices: int
    frames: int
    values: _containers.ScalarMap[str, str]
    duration_seconds: float
    def __init__(self, path: _Optional[str] = ..., profile: _Optional[str] = ..., origins: _Optional[_Mapping[str, str]] = ..., output: _Optional[str] = ..., decision: _Optional[_Union[_library_pb2.Decision, _Mapping]] = ..., skip_reason: _Optional[str] = ..., slices: _Optional[int] = ..., frames: _Optional[int] = ..., values: _Optional[_Mapping[str, str]] = ..., duration_seconds: _Optional[float] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: _jobs_pb2.JobState
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[_jobs_pb2.JobState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_jobs_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job", "slices")
    JOB_FIELD_NUMBER: _ClassVar[int]
    SLICES_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    slices: _containers.RepeatedCompositeFieldContainer[_jobs_pb2.Slice]
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ..., slices: _Optional[_Iterable[_Union[_jobs_pb2.Slice, _Mapping]]] = ...) -> None: ...

class WatchJobsRequest(_message.Message):
    __slots__ = ("job_id", "after_event_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_event_id: str
    def __init__(self, job_id: _Optional[str] = ..., after_event_id: _Optional[str] = ...) -> None: ...

class WatchJobsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _jobs_pb2.JobEvent
    def __init__(self, event: _Optional[_Union[_jobs_pb2.JobEvent, _Mapping]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class RetryJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class RetryJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class ListProfilesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProfilesResponse(_message.Message):
    __slots__ = ("profiles",)
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[_library_pb2.Profile]
    def __init__(self, profiles: _Optional[_Iterable[_Union[_library_pb2.Profile, _Mapping]]] = ...) -> None: ...
