"""Spotting: find micro- and macro-expression intervals in long videos (`mer-spot`, MEGC).

long video (`mer.data.long_videos.LongVideos`) → per-region motion per frame, cached
(`motion.py`, `motion_cache.py`) → a spotting signal, its peaks and intervals (`flow_peaks.py`; or a
per-frame score a shallow network learnt leave-one-subject-out, `softnet.py`) →
spots.csv, spotting.json and per-video plots (`app.py`, scored by `mer.evaluate.spotting`).
"""
