"""CSV cells that a spreadsheet will not run as formulas (CSV injection, OWASP)."""

# A cell starting with one of these is a formula in Excel, LibreOffice or Google Sheets
# (the full-width forms too, which some spreadsheets fold to ASCII).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value):
    """Text that would start a formula gets a leading apostrophe; numbers and other values pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
