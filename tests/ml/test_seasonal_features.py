"""Prior-year seasonal and calendar features of the global forecasters (inventory.ml.features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inventory.ml.features import calendar_features, design_rows, feature_columns, to_matrix

START = pd.Timestamp("2009-11-30")  # a Monday
N_WEEKS = 110


def seasonal_panel(with_category: bool = True) -> pd.DataFrame:
    """Ten series over two years in two categories: 'xmas' (s0-s4: about 10 a week, tripled in the 6 weeks
    before Christmas) and 'flat' (s5-s9: 5 a week); series 'new' ('xmas') starts in the second year."""
    weeks = pd.date_range(START, periods=N_WEEKS, freq="7D")
    gap = np.array([(pd.Timestamp(f"{d.year}-12-25") - d).days // 7 for d in weeks])
    ramp = np.where((gap >= 0) & (gap < 6), 3.0, 1.0)
    rows = []
    for i in range(10):
        y = 10.0 * ramp + i if i < 5 else np.full(N_WEEKS, 5.0)
        frame = pd.DataFrame({"unique_id": f"s{i}", "ds": weeks, "y": y})
        frame["category"] = "xmas" if i < 5 else "flat"
        rows.append(frame)
    new = pd.DataFrame({"unique_id": "new", "ds": weeks[60:], "y": 10.0, "category": "xmas"})
    panel = pd.concat([*rows, new], ignore_index=True)
    return panel if with_category else panel.drop(columns="category")


def origin_index(pm, day: str) -> int:  # noqa: ANN001
    return int(pm.buckets.get_loc(pd.Timestamp(day)))


def series_rows(pm, rows: pd.DataFrame, uid: str) -> pd.DataFrame:  # noqa: ANN001
    return rows[rows["_series"] == int(np.flatnonzero(pm.ids == uid)[0])].sort_values("step")


def test_same_weeks_last_year_are_read_for_the_target_week() -> None:
    pm = to_matrix(seasonal_panel(), 7)
    t = origin_index(pm, "2010-11-08")  # a year after the first November: the ramp of 2009 is not seen
    t2 = origin_index(pm, "2011-11-07")
    rows = design_rows(pm, [t2], 4, min_nonzero=0, with_target=False)
    s0 = series_rows(pm, rows, "s0")
    y = pm.y[int(np.flatnonzero(pm.ids == "s0")[0])]
    for _, r in s0.iterrows():
        c = t2 + int(r["step"]) - 1
        assert r["ly_same"] == pytest.approx(y[c - 53:c - 50].mean() / r["_scale"])
    # the ramp shows up last year: the target weeks' index against the 13 weeks before is above 0
    assert (s0["ly_ratio"].iloc[-1] > 0.5) and (s0["shop_season"].iloc[-1] > 0.3)
    # the category index: ramp for 'xmas', none for 'flat'
    flat = series_rows(pm, rows, "s7")
    assert s0["category_season"].iloc[-1] > 0.5 and flat["category_season"].abs().max() < 1e-9
    # the series that started in the second year has no last year
    assert series_rows(pm, rows, "new")["ly_same"].isna().all()
    # and a year after the data start there is no last year for anyone before the history
    early = design_rows(pm, [t - 40], 4, min_nonzero=0, with_target=False)
    assert early["ly_ratio"].isna().all() and early["shop_season"].isna().all()


def test_seasonal_features_use_only_buckets_before_the_origin() -> None:
    panel = seasonal_panel()
    pm = to_matrix(panel, 7)
    t = origin_index(pm, "2011-11-07")
    changed = panel.copy()
    changed.loc[changed["ds"] >= pd.Timestamp("2011-11-07"), "y"] = 999.0
    a = design_rows(pm, [t], 4, with_target=False)
    b = design_rows(to_matrix(changed, 7), [t], 4, with_target=False)
    cols = feature_columns(a)
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_without_categories_there_is_no_category_feature() -> None:
    pm = to_matrix(seasonal_panel(with_category=False), 7)
    rows = design_rows(pm, [origin_index(pm, "2011-11-07")], 2, with_target=False)
    assert "category_season" not in rows and rows["shop_season"].notna().all()


def test_calendar_flags() -> None:
    xmas = calendar_features(pd.Timestamp("2010-12-20"), 7)
    assert xmas["christmas_closure"] == 1.0 and xmas["bank_holidays"] == 2.0 and xmas["pre_christmas"] == 0.0
    autumn = calendar_features(pd.Timestamp("2011-11-07"), 7)
    assert autumn["pre_christmas"] == 1.0 and autumn["christmas_closure"] == 0.0 and autumn["to_christmas"] == 6.0
    easter = calendar_features(pd.Timestamp("2011-04-18"), 7)  # Good Friday 22 April, Easter Monday 25 April
    assert easter["bank_holidays"] == 1.0
    assert calendar_features(pd.Timestamp("2011-08-29"), 7)["bank_holidays"] == 1.0  # summer bank holiday
