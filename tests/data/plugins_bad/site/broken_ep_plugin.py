raise RuntimeError("sample plugin broken at import")
