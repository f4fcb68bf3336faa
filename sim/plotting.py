"""Matplotlib helpers shared by every figure govsim draws: fonts for Chinese labels and fixed margins."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

CJK_FAMILIES = ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "SimHei",
                "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN")
CJK_FILES = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FILE_HINTS = ("wqy", "notosanscjk", "sourcehansans", "droidsansfallback", "uming", "simhei")


@lru_cache(maxsize=1)
def _font_families() -> tuple[str, ...]:
    """DejaVu Sans, then the installed CJK families (system fonts that matplotlib's cache missed are
    registered; looked up once per process: scanning the system's fonts is slow)."""
    from matplotlib import font_manager as fm
    known = {f.name for f in fm.fontManager.ttflist}
    if not known.intersection(CJK_FAMILIES):   # installed after matplotlib cached its font list
        files = [f for f in CJK_FILES if Path(f).is_file()] or [
            f for f in fm.findSystemFonts() if any(k in Path(f).name.lower() for k in CJK_FILE_HINTS)]
        for f in files:
            try:
                fm.fontManager.addfont(f)
            except (OSError, RuntimeError, ValueError):
                continue
        known = {f.name for f in fm.fontManager.ttflist}
    return ("DejaVu Sans", *(f for f in CJK_FAMILIES if f in known))


@contextmanager
def cjk_fonts():
    """Matplotlib settings under which Chinese labels render: a CJK font as fallback behind DejaVu Sans.
    Without one, labels show boxes."""
    import matplotlib
    families = list(_font_families())
    log = logging.getLogger("matplotlib.font_manager")   # WenQuanYi has no "normal" weight: a harmless note
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context({"font.family": families}):
            yield
    finally:
        log.setLevel(level)


def fixed_margins(fig, *, left: float = 0.75, right: float = 0.2, top: float = 0.45, bottom: float = 0.7,
                  wspace: float | None = None, hspace: float | None = None) -> None:
    """Fixed margins in inches around the axes: room for tick labels, axis labels, titles and a
    footnote. (A tight layout measures every text in an extra draw: 40% of a run's figure time.)"""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h,
                        wspace=wspace, hspace=hspace)
