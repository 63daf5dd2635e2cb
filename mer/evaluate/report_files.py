"""The files `mer-report` writes into its output dir (by default the sweep dir): their names, the
report dir's contract.

- `report.csv`: one row per configuration (dataset, input, head, configuration): pooled scores
  (mean over seeds), their std over seeds, subject-bootstrap CIs, per-fold mean ± std, missing folds
  and failed jobs;
- `report_seeds.csv`: the same pooled scores per seed;
- `samples.csv`: the exact samples scored (sample_id, subject, label);
- `report_sources.csv`: per source dataset scores, only for configurations spanning several
  (accuracy, UF1 and UAR; the mean AU F1 for action units);
- `report_aus.csv`: one row per action-unit configuration × AU: its pooled F1 and interval, how many
  clips have it and how many it was predicted on, only for `task=au` sweeps;
- `report_sensitivity.csv`: each `sensitivity=` setting against the paper recipe, only for such sweeps;
- `report_methods.csv`: one row per model × head (report.csv's columns), only for sweeps over `model=`;
- `confusion/<dataset>-<configuration>.png`: each configuration's pooled confusion matrix;
- `aus/<dataset>-<configuration>.png`: each action-unit configuration's per-AU F1 bar chart;
- `report_tuning.csv` and `tuning/<dataset>-<configuration>.png`: for `tune=nested` configurations,
  the settings each outer fold's study chose, and how often each value was chosen;
- `report.md`: all of it as paper-style tables with the protocol's prose.
"""

REPORT_CSV, REPORT_MD, SEEDS_CSV, SAMPLES_CSV = "report.csv", "report.md", "report_seeds.csv", "samples.csv"
SOURCES_CSV, SENSITIVITY_CSV, METHODS_CSV = "report_sources.csv", "report_sensitivity.csv", "report_methods.csv"
AUS_CSV, TUNING_CSV = "report_aus.csv", "report_tuning.csv"
CONFUSION_DIR, AU_CHART_DIR, TUNING_DIR = "confusion", "aus", "tuning"
