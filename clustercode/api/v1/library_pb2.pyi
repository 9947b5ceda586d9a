from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecisionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_KIND_UNSPECIFIED: _ClassVar[DecisionKind]
    DECISION_KIND_NEW: _ClassVar[DecisionKind]
    DECISION_KIND_DONE: _ClassVar[DecisionKind]
    DECISION_KIND_SKIPPED: _ClassVar[DecisionKind]
    DECISION_KIND_PARKED: _ClassVar[DecisionKind]
    DECISION_KIND_QUEUED: _ClassVar[DecisionKind]
    DECISION_KIND_RUNNING: _ClassVar[DecisionKind]
DECISION_KIND_UNSPECIFIED: DecisionKind
DECISION_KIND_NEW: DecisionKind
DECISION_KIND_DONE: DecisionKind
DECISION_KIND_SKIPPED: DecisionKind
DECISION_KIND_PARKED: DecisionKind
DECISION_KIND_QUEUED: DecisionKind
DECISION_KIND_RUNNING: DecisionKind

class Decision(_message.Message):
    __slots__ = ("path", "kind", "reason", "profile", "job_id")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: DecisionKind
    reason: str
    profile: str
    job_id: str
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[DecisionKind, str]] = ..., reason: _Optional[str] = ..., profile: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class DecisionCount(_message.Message):
    __slots__ = ("kind", "count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: DecisionKind
    count: int
    def __init__(self, kind: _Optional[_Union[DecisionKind, str]] = ..., count: _Optional[int] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("name", "origin", "container", "video_args", "audio_copy", "audio_args", "slice_seconds", "priority", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    VIDEO_ARGS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_COPY_FIELD_NUMBER: _ClassVar[int]
    AUDIO_ARGS_FIELD_NUMBER: _ClassVar[int]
    SLICE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    origin: str
    container: str
    video_args: _containers.RepeatedScalarFieldContainer[str]
    audio_copy: bool
    audio_args: _containers.RepeatedScalarFieldContainer[str]
    slice_seconds: float
    priority: int
    description: str
    def __init__(self, name: _Optional[str] = ..., origin: _Optional[str] = ..., container: _Optional[str] = ..., video_args: _Optional[_Iterable[str]] = ..., audio_copy: _Optional[bool] = ..., audio_args: _Optional[_Iterable[str]] = ..., slice_seconds: _Optional[float] = ..., priority: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class ScanProgress(_message.Message):
    __slots__ = ("running", "files_seen", "directories_seen", "files_per_second", "current_directory", "files_decided", "jobs_queued", "elapsed_seconds")
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    FILES_SEEN_FIELD_NUMBER: _ClassVar[int]
    DIRECTORIES_SEEN_FIELD_NUMBER: _ClassVar[int]
    FILES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    CURRENT_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    FILES_DECIDED_FIELD_NUMBER: _ClassVar[int]
    JOBS_QUEUED_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    running: bool
    files_seen: int
    directories_seen: int
    files_per_second: float
    current_directory: str
    files_decided: int
    jobs_queued: int
    elapsed_seconds: float
    def __init__(self, running: _Optional[bool] = ..., files_seen: _Optional[int] = ..., directories_seen: _Optional[int] = ..., files_per_second: _Optional[float] = ..., current_directory: _Optional[str] = ..., files_decided: _Optional[int] = ..., jobs_queued: _Optional[int] = ..., elapsed_seconds: _Optional[float] = ...) -> None: ...
