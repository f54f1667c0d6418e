#!/usr/bin/env python3
"""Golden values for tests/infer/test_watershed_median.cpp: the median edge score of EM agglomeration.

The reference's CREMI validation (ydchen0806/GTGM NeuronSeg/main.py:276-280) agglomerates with
waterz, scoring_function 'OneMinus<HistogramQuantileAffinity<RegionGraphType, 50, ScoreValue, 256>>'
(merge while 1 - median < 0.5, i.e. median > 0.5). waterz is not installed here; its
HistogramQuantileProvider (waterz backend/HistogramQuantileProvider.hpp) ported as it is:

    void add(Precision value) { _histogram.inc((int)(value*(Bins-1))); }
    Precision value() {
        int pivot = Q*_histogram.sum()/100 + 1;   // pivot element, 1-based index
        int sum = 0; int bin = 0;
        for (bin = 0; bin < Bins; bin++) { sum += _histogram[bin]; if (sum >= pivot) break; }
        return (Precision)bin/(Bins-1);
    }
Merging two regions adds their histograms.
"""
BINS = 256


def add(hist, value):
    hist[int(value * (BINS - 1))] += 1


def value(hist, q):
    pivot = q * sum(hist) // 100 + 1
    s = 0
    b = 0
    for b in range(BINS):
        s += hist[b]
        if s >= pivot:
            break
    return b / (BINS - 1)


cases = {
    "mean_merges_median_not": [0.4, 0.4, 0.4, 1.0, 1.0],
    "median_merges_mean_not": [0.0, 0.0, 0.6, 0.6, 0.6],
    "even_count": [10 / 255, 20 / 255, 30 / 255, 40 / 255],
    "single": [77 / 255],
}
for name, values in cases.items():
    h = [0] * BINS
    for v in values:
        add(h, v)
    mean = sum(values) / len(values)
    print(f"{name}: levels {[int(v * 255) for v in values]} median {value(h, 50)!r} "
          f"(x255 = {value(h, 50) * 255:.1f}) q25 {value(h, 25)!r} mean {mean:.6f}")
# Merged regions: histograms add up.
h = [0] * BINS
for v in cases["mean_merges_median_not"] + cases["median_merges_mean_not"]:
    add(h, v)
print(f"merged: median {value(h, 50)!r} (x255 = {value(h, 50) * 255:.1f}) q25 {value(h, 25)!r}")
