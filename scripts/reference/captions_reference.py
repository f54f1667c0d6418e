#!/usr/bin/env python3
"""Golden captions for tests/text/test_caption_reference.cpp.

Writes tests/data/captions/offline_caption/<dataset>/<volume>.csv the way the reference's caption
files are written: pandas DataFrame.to_csv with its defaults (an unnamed index column first, then
`location` holding str() of a Python list [z, y, x], then `description`). pandas is not installed
here; DataFrame.to_csv formats rows through Python's csv.writer with quoting=csv.QUOTE_MINIMAL and
lineterminator os.linesep ("\n"), which is what this script calls, with the header
["", "location", "description"] and the integer index.

Then it runs the reference's lookup, ported as it is from ydchen0806/GTGM
pretrain/dataloader/data_provider_pretraining_caption_match.py (convert_location :40-46,
find_nearest_neighbor :48-60, the caption assembly :292-305; pd.read_csv is replaced by
csv.reader, which reads QUOTE_MINIMAL files the same way), for crop corners (random_z, random_y,
random_x) and prints the caption the reference would feed to BioBERT.
"""
import csv
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "tests", "data", "captions", "offline_caption")


def convert_location(location):  # :40-46
    if isinstance(location, str):
        location = eval(location)
    if not isinstance(location, list):
        location = list(location)
    return location


def find_nearest_neighbor(coordinates, coord_list):  # :48-60
    min_distance_squared = float('inf')
    nearest_coord = None
    for k, coord in enumerate(coord_list):
        distance_squared = sum((a - b) ** 2 for a, b in zip(coordinates, coord))
        if distance_squared < min_distance_squared:
            min_distance_squared = distance_squared
            nearest_coord = k
    return nearest_coord


def reference_caption(caption_path, data_path, random_z, random_y, random_x):  # :292-305
    base_name = os.path.basename(data_path).split('.')[0]
    if data_path.endswith('.nii.gz'):
        data_name = data_path.split('/')[-3]
    else:
        data_name = data_path.split('/')[-2]
    caption_path = os.path.join(caption_path, data_name, base_name + '.csv')
    try:
        with open(caption_path, newline="") as fh:
            rows = list(csv.DictReader(fh))  # pd.read_csv(caption_path)
        locations = [convert_location(r['location']) for r in rows]
        caption = rows[find_nearest_neighbor([random_z, random_y, random_x], locations)]['description']
        caption = base_name + ', ' + caption
    except Exception:
        caption = base_name + ', No caption available!'
    return caption


def to_csv(path, locations, descriptions):
    """DataFrame({'location': locations, 'description': descriptions}).to_csv(path)"""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        w.writerow(["", "location", "description"])
        for i, (loc, d) in enumerate(zip(locations, descriptions)):
            w.writerow([i, str(loc), d])


texts = [
    "a ct scan of the abdomen",
    "axial slice, showing the liver and the spleen",        # comma: quoted
    'the "hypodense" lesion of the right lobe',             # quotes: doubled
    "contrast-enhanced ct, portal venous phase, liver",
    "two lines\nof text",                                    # newline: quoted
    "ct image of the upper abdomen",
    "a slice with the kidneys, the aorta, and the spine",
    "liver segment",
    "ct of the chest and abdomen",
    "a slice through the liver dome",
    "small bowel loops",
    "last slice",
]
locs = [[z, y, x] for z in (0, 10, 20) for y in (0, 80) for x in (0, 80)]
to_csv(os.path.join(ROOT, "Task03_Liver", "liver_3.csv"), locs, texts)
to_csv(os.path.join(ROOT, "Task06_Lung", "lung_007.csv"), [[0, 0, 0], [10, 80, 80]],
       ["lungs, with a nodule", "mediastinum"])

queries = [("/data/MSD/Task03_Liver/imagesTr/liver_3.nii.gz", c)
           for c in [(0, 0, 0), (12, 50, 30), (25, 79, 81), (5, 40, 40), (14, 120, 10), (9, 200, 200)]]
queries += [("/data/MSD/Task06_Lung/imagesTr/lung_007.nii.gz", (6, 60, 60)),
            ("/data/MSD/Task09_Spleen/imagesTr/spleen_2.nii.gz", (0, 0, 0))]
out = []
for data_path, (z, y, x) in queries:
    cap = reference_caption(ROOT, data_path, z, y, x)
    out.append({"image": data_path, "corner": [z, y, x], "caption": cap})
    print(json.dumps(out[-1]))
