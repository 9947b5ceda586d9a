import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
    JOB_STATE_PARKED: _ClassVar[JobState]

class SliceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLICE_STATE_UNSPECIFIED: _ClassVar[SliceState]
    SLICE_STATE_PENDING: _ClassVar[SliceState]
    SLICE_STATE_RUNNING: _ClassVar[SliceState]
    SLICE_STATE_SUCCEEDED: _ClassVar[SliceState]
    SLICE_STATE_FAILED: _ClassVar[SliceState]

class JobEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_EVENT_KIND_UNSPECIFIED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_JOB_STATE: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_SLICE_PROGRESS: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_JOB_DELETED: _ClassVar[JobEventKind]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_PARKED: JobState
SLICE_STATE_UNSPECIFIED: SliceState
SLICE_STATE_PENDING: SliceState
SLICE_STATE_RUNNING: SliceState
SLICE_STATE_SUCCEEDED: SliceState
SLICE_STATE_FAILED: SliceState
JOB_EVENT_KIND_UNSPECIFIED: JobEventKind
JOB_EVENT_KIND_JOB_STATE: JobEventKind
JOB_EVENT_KIND_SLICE_PROGRESS: JobEventKind
JOB_EVENT_KIND_JOB_DELETED: JobEventKind

class Job(_message.Message):
    __slots__ = ("id", "source", "fingerprint", "profile", "profile_hash", "output", "state", "priority", "create_time", "start_time", "finish_time", "slices_total", "slices_done", "frames_total", "frames_done", "size_before", "size_after", "attempts", "error", "run_id", "executor")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_HASH_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    SLICES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SLICES_DONE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DONE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    SIZE_AFTER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    id: str
    source: str
    fingerprint: str
    profile: str
    profile_hash: str
    output: str
    state: JobState
    priority: int
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    slices_total: int
    slices_done: int
    frames_total: int
    frames_done: int
    size_before: int
    size_after: int
    attempts: int
    error: str
    run_id: str
    executor: str
    def __init__(self, id: _Optional[str] = ..., source: _Optional[str] = ..., fingerprint: _Optional[str] = ..., profile: _Optional[str] = ..., profile_hash: _Optional[str] = ..., output: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., priority: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., slices_total: _Optional[int] = ..., slices_done: _Optional[int] = ..., frames_total: _Optional[int] = ..., frames_done: _Optional[int] = ..., size_before: _Optional[int] = ..., size_after: _Optional[int] = ..., attempts: _Optional[int] = ..., error: _Optional[str] = ..., run_id: _Optional[str] = ..., executor: _Optional[str] = ...) -> None: ...

class Slice(_message.Message):
    __slots__ = ("index", "frames_total", "frames_done", "state", "attempts", "fps", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FRAMES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DONE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    frames_total: int
    frames_done: int
    state: SliceState
    attempts: int
    fps: float
    message: str
    def __init__(self, index: _Optional[int] = ..., frames_total: _Optional[int] = ..., frames_done: _Optional[int] = ..., state: _Optional[_Union[SliceState, str]] = ..., attempts: _Optional[int] = ..., fps: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("event_id", "kind", "job_id", "job", "slice", "time")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    kind: JobEventKind
    job_id: str
    job: Job
    slice: Slice
    time: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., kind: _Optional[_Union[JobEventKind, str]] = ..., job_id: _Optional[str] = ..., job: _Optional[_Union[Job, _Mapping]] = ..., slice: _Optional[_Union[Slice, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class JobStateCount(_message.Message):
    __slots__ = ("state", "count")
    STATE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    count: int
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., count: _Optional[int] = ...) -> None: ...

class SchedulerPause(_message.Message):
    __slots__ = ("reason", "next_try_time", "pauses")
    REASON_FIELD_NUMBER: _ClassVar[int]
    NEXT_TRY_TIME_FIELD_NUMBER: _ClassVar[int]
    PAUSES_FIELD_NUMBER: _ClassVar[int]
    reason: str
    next_try_time: _timestamp_pb2.Timestamp
    pauses: int
    def __init__(self, reason: _Optional[str] = ..., next_try_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pauses: _Optional[int] = ...) -> None: ...
