"""``ocdr data ...``: dataset converters, the synthetic generator, character lists, statistics."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.commands.data_crops import CropsSpec
from ocdr.data.splits import SplitSpec
from ocdr.data.charset import CharsetSpec, LexiconFileSpec
from ocdr.data.iam import IamSpec
from ocdr.data.icdar import IcdarSpec
from ocdr.data.stats import StatsSpec
from ocdr.data.synth import SynthSpec

register(Command(
    group="data", name="iam", spec=IamSpec, run="ocdr.data.iam:convert_iam",
    summary="convert the IAM handwriting database to the detection and recognition layouts",
    description=(
        "Reads IAM's ascii.tgz (or words.txt) and formsA-D/E-H/I-Z.tgz (or extracted folders) and writes\n"
        "train|test/img/<form>.png, train|test/gt/gt_<form>.txt (8-point boxes), word crops with\n"
        "train|test/crops/gt_list.txt, and character_list.txt. Split by form letter: A-H train, I-Z test\n"
        "by default; words whose box is -1 or outside the page are skipped and counted."),
    example="ocdr data iam ascii=iam/ascii.tgz 'forms=[iam/formsA-D.tgz,iam/formsE-H.tgz,iam/formsI-Z.tgz]' output_dir=data/iam",
))
register(Command(
    group="data", name="icdar", spec=IcdarSpec, run="ocdr.data.icdar:convert_icdar",
    summary="normalise an ICDAR-style folder (images + 8-point gt) into the detection layout",
    description=(
        "Pairs each image with its gt file (gt_<stem>.txt, <stem>.txt or <image name>.txt), re-encodes\n"
        "images whose extension lies about their format, flattens RGBA, grayscale and 16-bit images, and\n"
        "writes <output_dir>/<split>/img/<stem>.<ext> + <output_dir>/<split>/gt/gt_<stem>.txt.\n"
        "With test_fraction > 0 the files are split by sorted name (fixed, reproducible)."),
    example="ocdr data icdar input_dir=../shared/data/hme_handwritten_det output_dir=data/hme test_fraction=0.1",
))
register(Command(
    group="data", name="synth", spec=SynthSpec, run="ocdr.data.synth:generate",
    summary="generate synthetic handwriting-like pages (the embedded default dataset)",
    description=(
        "Renders words (English word list, digits, punctuation, mixed case) in handwriting-like and print\n"
        "fonts on paper/form backgrounds with rotation, perspective, blur, noise and ink colours. Writes the\n"
        "detection layout (quads follow each rotated word) and recognition crops + gt_list.txt.\n"
        "Deterministic for a seed. A non-empty output_dir is refused; overwrite=true replaces it whole\n"
        "(the new dataset is built beside it and renamed into place, so a run never mixes with another)."),
    example="ocdr data synth output_dir=data/synth num_pages=200 seed=0",
))
register(Command(
    group="data", name="charset", spec=CharsetSpec, run="ocdr.data.charset:make_charset",
    summary="build a character list file from gt lists or ICDAR gt folders",
    description=(
        "Collects every character of the labels in the given gt lists (path<TAB>label) and/or ICDAR gt\n"
        "folders, sorted, and writes one per line (a line holding one space is the space character)."),
    example="ocdr data charset 'inputs=[data/synth/train/crops/gt_list.txt]' output=data/synth/character_list.txt",
    output_key=None,
))
register(Command(
    group="data", name="lexicon", spec=LexiconFileSpec, run="ocdr.data.charset:make_lexicon",
    summary="build a word list (lexicon) from gt lists or ICDAR gt folders, for lexicon decoding",
    description=(
        "Collects the distinct labels of the given gt lists (path<TAB>label) and/or ICDAR gt folders\n"
        "(### skipped), most frequent first, and writes one per line. A recognizer given the file as\n"
        "lexicon.file (ocrnet evaluate/inference, pipeline, serve) turns a reading close to one of them into\n"
        "that word when the network finds it about as likely; other words are still read."),
    example="ocdr data lexicon 'inputs=[data/names/train/gt_list.txt]' output=data/names/lexicon.txt",
    output_key=None,
))
register(Command(
    group="data", name="stats", spec=StatsSpec, run="ocdr.data.stats:dataset_stats",
    summary="count images, regions, don't-cares, characters and sizes of a dataset folder",
    description=(
        "Reads a detection layout folder (img/ + gt/, and crops/ when present), a dataset root with\n"
        "train/ and test/, a recognition gt list or an LMDB, and prints counts: images, regions, don't-care\n"
        "regions, box sizes, label lengths and character counts. Bad records are errors unless --skip-bad."),
    example="ocdr data stats path=data/synth/train",
    output_key=None,
))
register(Command(
    group="data", name="crops", spec=CropsSpec, run="ocdr.commands.data_crops:cut_crops",
    summary="word crops cut from an ICDAR-style folder by the rectifier, with gt_list.txt and a character list",
    description=("Every legible region (### skipped) of every image is turned upright and cut at `height` pixels by\n"
                 "the rectifier the pipeline uses, so a recognizer trains on what it will read. Boxes entirely\n"
                 "outside their image are dropped and counted."),
    example="ocdr data crops input_dir=../shared/data/icdar2015/train output_dir=data/icdar_crops",
))
register(Command(
    group="data", name="split", spec=SplitSpec, run="ocdr.data.splits:split_folder",
    summary="a fixed train/val split by file name (every N-th is validation), as links and lists, no copies",
    description=("The rule of bench/real.py: items in natural name order, every `every`-th to val/. A detection\n"
                 "folder becomes train|val/images/ + gt/ (and gt_poly/ when present) of symbolic links; a crop\n"
                 "folder (gt.txt or gt_list.txt) becomes train|val/gt_list.txt naming the original crops."),
    example="ocdr data split input_dir=../shared/data/gw/train/words output_dir=data/gw_words",
))
