import io
from collections import Counter

from mlcore.data import read_csv, read_uci, records_to_frame, split_frame
from mlcore.schema import INPUT_FIELDS

GOOD_LINE = "41,F,f,f,f,f,f,f,f,f,f,f,f,f,f,f,t,1.3,t,2.5,t,125,t,1.14,t,109,f,?,SVHC,-[840801014]"


def uci(*lines: str) -> io.StringIO:
    return io.StringIO("\n".join(lines) + "\n")


def test_read_uci_reads_a_good_line():
    result = read_uci(uci(GOOD_LINE))
    assert result.errors == [] and result.warnings == []
    (record,) = result.records
    assert record["TSH"] == 1.3 and record["TBG"] is None
    assert record["referral_source"] == "SVHC"
    assert (
        record["diagnosis"],
        record["label"],
        record["record_id"],
        record["line"],
    ) == (
        "-",
        "normal",
        "840801014",
        1,
    )


def test_read_uci_reports_malformed_lines_with_line_and_field():
    result = read_uci(
        uci(
            GOOD_LINE,
            "41,F,f,f",
            GOOD_LINE.replace("t,1.3", "t,abc"),
            GOOD_LINE.replace("t,1.3", "f,1.3"),
            GOOD_LINE.replace("[840801014]", ""),
            GOOD_LINE.replace("t,125", "t,900"),
        )
    )
    assert len(result.records) == 1
    reasons = {error.line: error.reason for error in result.errors}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "found 4" in reasons[2]
    assert "TSH 'abc' is not a number" in reasons[3]
    assert "TSH measured is f" in reasons[4]
    assert "record id" in reasons[5]
    assert "TT4 900 nmol/L is above the plausible maximum 700 nmol/L" in reasons[6]


def test_read_uci_turns_impossible_ages_into_unknown_with_a_warning():
    result = read_uci(uci(GOOD_LINE.replace("41,", "65511,", 1)))
    assert result.errors == []
    assert result.records[0]["age"] is None
    assert result.warnings[0].line == 1 and "65511" in result.warnings[0].reason


def test_read_uci_survives_random_bytes():
    noise = bytes(range(256)) * 3 + b"\n\x00\x01,\xff\n"
    result = read_uci(io.BytesIO(noise + GOOD_LINE.encode()))
    assert len(result.records) == 1
    assert result.errors and all(error.reason for error in result.errors)


def test_read_uci_reads_the_whole_dev_file_cleanly(dev_data_path):
    result = read_uci(dev_data_path)
    assert len(result.records) == 7303
    assert result.errors == []
    assert len(result.warnings) >= 1
    assert Counter(record["label"] for record in result.records) == {
        "normal": 5415,
        "hyperthyroid": 181,
        "hypothyroid": 532,
        "other": 1175,
    }


def csv_text(header, *rows):
    return io.StringIO("\n".join([",".join(header), *(",".join(row) for row in rows)]) + "\n")


def csv_row(**overrides):
    values = {name: "" for name in INPUT_FIELDS}
    values.update(
        age="50",
        sex="M",
        TSH="12",
        T3="1.2",
        TT4="60",
        T4U="0.9",
        FTI="66",
        referral_source="SVI",
    )
    values.update(overrides)
    return [values[name] for name in INPUT_FIELDS]


def test_read_csv_reads_rows_and_optional_columns():
    header = [*INPUT_FIELDS, "diagnosis", "record_id", "collected_at"]
    result = read_csv(csv_text(header, [*csv_row(), "G", "r1", "2024-03-01T10:00"]))
    assert result.errors == []
    (record,) = result.records
    assert record["TSH"] == 12.0 and record["label"] == "hypothyroid" and record["line"] == 2
    assert record["collected_at"] == "2024-03-01T10:00"


def test_read_csv_reports_unknown_and_missing_columns_once_on_line_1():
    header = [name for name in INPUT_FIELDS if name != "TSH"] + ["colour"]
    result = read_csv(csv_text(header, csv_row()[:-1] + ["x"], csv_row()[:-1] + ["y"]))
    assert result.records == []
    assert [error.line for error in result.errors] == [1, 1]
    assert "colour" in result.errors[0].reason
    assert "TSH" in result.errors[1].reason


def test_read_csv_reports_bad_rows_with_their_line_number():
    result = read_csv(csv_text(INPUT_FIELDS, csv_row(), csv_row(TSH="-3"), csv_row(sex="Q"), csv_row()[:5]))
    assert len(result.records) == 1
    assert [error.line for error in result.errors] == [3, 4, 5]
    assert "TSH" in result.errors[0].reason and "sex" in result.errors[1].reason


def test_records_to_frame_and_split(dev_records):
    frame = records_to_frame(dev_records)
    assert list(frame.columns[: len(INPUT_FIELDS)]) == list(INPUT_FIELDS)
    assert frame["TSH"].dtype == "float64"
    labelled = frame[frame["label"] != "other"]
    train, val, test = split_frame(labelled, seed=0)
    assert len(train) + len(val) + len(test) == len(labelled)
    assert abs(len(test) / len(labelled) - 0.15) < 0.01
    again = split_frame(labelled, seed=0)[2]
    assert list(again["record_id"]) == list(test["record_id"])
    for part in (train, val, test):
        assert (part["label"] == "hyperthyroid").mean() > 0.02
