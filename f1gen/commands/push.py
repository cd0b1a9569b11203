"""f1gen push: every clip, the cut and its side files that the bucket does not have yet."""

from __future__ import annotations

from ..errors import ConfigError
from ..words import counted
from .options import (
    BucketOpt,
    CreateBucketOpt,
    JsonOpt,
    OptionalStoryboard,
    WorkdirOpt,
    print_json,
    say,
)


def push(
    storyboard: OptionalStoryboard = None,
    bucket: BucketOpt = None,
    create_bucket: CreateBucketOpt = False,
    workdir: WorkdirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload every clip, the final cut and its side files that the bucket does not have yet."""
    from .. import stitch as stitching
    from ..config import load_settings
    from ..sync import push as push_all
    from ..workspace import open_storage, open_workspace

    settings = load_settings({"bucket": bucket})
    work = open_workspace(storyboard, workdir=workdir)
    storage = open_storage(settings, prefix=work.workdir.resolve().name)
    if storage is None:
        raise ConfigError("no bucket configured: set F1GEN_BUCKET in .env or pass --bucket")
    storage.check(create=create_bucket)
    default_cut = stitching.outputs(work.workdir)
    extra = [default_cut.cut, *default_cut.side]
    result = push_all(work.storyboard, workdir=work.workdir, storage=storage, extra=extra)
    if as_json:
        print_json(result.as_dict())
    sent, already = counted(len(result.sent), "clip"), len(result.already)
    say(f"{sent} sent, {already} already in {storage.where}")
    say(*(f"{name}: {link}" for name, link in result.links.items()))
