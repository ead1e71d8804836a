"""Moving between frames: the next or previous frame of a video (labelled or not), the next or previous
labelled frame, a frame by number (plain Python).

A video-backed document steps through every frame of the current image's video; a document of image
files steps through its images in document order. "Labelled" means holding at least one instance.
"""

from __future__ import annotations

import numpy as np

from aegroup_gui.model.document import Document


def labelled_frames(doc: Document, video: int) -> np.ndarray:
    """Sorted frame numbers of a video's frames that hold at least one instance."""
    frames = [
        int(doc.images[i].frame_index or 0)
        for i in doc.kept()
        if doc.images[i].video == video and doc.images[i].annotations.num_instances
    ]
    return np.unique(np.asarray(frames, np.int64))


def step_frame(doc: Document, step: int) -> int | None:
    """Show the frame `step` frames on (negative: back), clamped to the video or image list; returns the
    image index shown, or None when already at that end."""
    record = doc.image
    if record.video is None:
        files = [i for i in doc.kept() if doc.images[i].video is None]
        pos = files.index(doc.current) + step
        target = files[min(max(pos, 0), len(files) - 1)]
        if target == doc.current:
            return None
        doc.set_current(target)
        return target
    frames = doc.videos[record.video].frames or 1
    frame = min(max(int(record.frame_index or 0) + step, 0), frames - 1)
    if frame == record.frame_index:
        return None
    return doc.show_frame(record.video, frame)


def step_labelled(doc: Document, step: int) -> int | None:
    """Show the next (step > 0) or previous labelled frame of the current video (or image list); None
    when there is none that way."""
    record = doc.image
    if record.video is None:
        files = [i for i in doc.kept() if doc.images[i].video is None]
        pos = files.index(doc.current)
        ahead = files[pos + 1 :] if step > 0 else files[:pos][::-1]
        target = next((i for i in ahead if doc.images[i].annotations.num_instances), None)
        if target is not None:
            doc.set_current(target)
        return target
    frames = labelled_frames(doc, record.video)
    here = int(record.frame_index or 0)
    ahead = frames[frames > here] if step > 0 else frames[frames < here][::-1]
    if not ahead.size:
        return None
    return doc.show_frame(record.video, int(ahead[0]))


def go_to_frame(doc: Document, frame: int) -> int:
    """Show frame number `frame` of the current video (image number, 0-based, for image files)."""
    record = doc.image
    if record.video is None:
        files = [i for i in doc.kept() if doc.images[i].video is None]
        target = files[min(max(frame, 0), len(files) - 1)]
        doc.set_current(target)
        return target
    frames = doc.videos[record.video].frames or 1
    return doc.show_frame(record.video, min(max(frame, 0), frames - 1))
