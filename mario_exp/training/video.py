"""Episode videos: full-colour NES screens streamed into an H.264 MP4 at native resolution, plus
a small GIF of the same episode (for a README, and for TensorBoard's image dashboard).

One frame per agent step: the screen the agent's frame came from. The NES runs at 60 frames/s
and an agent step holds its action for env.frame_skip frames, so the video plays at
60 / frame_skip frames/s, i.e. in real time. The frames in between are not recorded: the agent
never sees them, and recording them would need a hook inside the env's frame-skip loop.

The encoder is imageio-ffmpeg's ffmpeg binary (H.264, yuv420p: plays in browsers and players),
fed one frame at a time, so a long episode is never held in memory as RGB frames.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import imageio_ffmpeg
import numpy as np
from PIL import Image

from mario_exp.env.mario_env import NES_FPS
from mario_exp.rundir.atomic import commit, temp_path, write_atomic

# The GIF: half the resolution (nearest neighbour keeps the NES's flat colours, so each frame
# needs few palette entries) and every second frame, still in real time.
GIF_SCALE = 2
GIF_EVERY = 2


def video_fps(frame_skip: int) -> float:
    """Frames per second that play one frame per agent step in real time."""
    return NES_FPS / frame_skip


class EpisodeVideo:
    """Streams RGB screens into `mp4_path` (H.264) and keeps a reduced copy for a GIF.

    Nothing appears at `mp4_path` until `close()`: the encoder writes a temporary file that is
    renamed into place, so a crash mid-episode leaves the previous video whole."""

    def __init__(self, mp4_path: Path, fps: float) -> None:
        self.mp4_path = mp4_path
        self.fps = fps
        self.frames = 0
        self._gif_frames: list[Image.Image] = []
        self._encoder: Optional[object] = None
        self._tmp: Optional[Path] = None

    def add(self, screen: np.ndarray) -> None:
        """Append one 240x256x3 uint8 screen."""
        if self._encoder is None:
            self._start(screen.shape[1], screen.shape[0])
        self._encoder.send(np.ascontiguousarray(screen).tobytes())
        if self.frames % GIF_EVERY == 0:
            small = screen[::GIF_SCALE, ::GIF_SCALE]
            # Per-frame adaptive palette: an NES screen has far fewer than 256 colours.
            self._gif_frames.append(Image.fromarray(small).quantize(colors=256, method=Image.Quantize.MEDIANCUT))
        self.frames += 1

    def _start(self, width: int, height: int) -> None:
        self._tmp = temp_path(self.mp4_path)
        self._encoder = imageio_ffmpeg.write_frames(
            str(self._tmp), (width, height), fps=self.fps, codec="libx264", pix_fmt_out="yuv420p",
            # -crf 18: visually lossless for flat pixel art; faststart: the index first, so a
            # browser can start playing before the whole file has arrived.
            output_params=["-crf", "18", "-movflags", "+faststart", "-f", "mp4"],
            macro_block_size=1)  # 256x240 needs no padding; keep the native size exactly
        self._encoder.send(None)  # start ffmpeg

    def close(self) -> bytes:
        """Finish the MP4 (renamed into place atomically); returns the GIF's bytes."""
        if self._encoder is None:
            raise ValueError(f"{self.mp4_path}: a video needs at least one frame")
        try:
            self._encoder.close()
            commit(self._tmp, self.mp4_path)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        return self.gif_bytes()

    def abort(self) -> None:
        """Stop the encoder and drop the unfinished file."""
        if self._encoder is not None:
            self._encoder.close()
            self._tmp.unlink(missing_ok=True)

    def gif_bytes(self) -> bytes:
        """The episode as an animated GIF at half resolution, played in real time, looped."""
        buffer = io.BytesIO()
        first, *rest = self._gif_frames
        first.save(buffer, format="GIF", save_all=True, append_images=rest, loop=0,
                   duration=round(1000 * GIF_EVERY / self.fps), optimize=False)
        return buffer.getvalue()


def write_gif(path: Path, gif: bytes) -> None:
    write_atomic(path, lambda handle: handle.write(gif))


def gif_size(gif: bytes) -> tuple[int, int]:
    """(width, height) of a GIF."""
    with Image.open(io.BytesIO(gif)) as image:
        return image.size
