package spreadsheet

import "testing"

// Issue 15: an X-Forwarded-For or user agent of "=HYPERLINK(…)" must not become a live formula in audit.csv,
// whatever invisible or non-ASCII spacing precedes it; ordinary text is left exactly as it is.
func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://evil\")":     "'=HYPERLINK(\"http://evil\")",
		"  =1+1":                          "'  =1+1",
		"\u00a0=1+1":                      "'\u00a0=1+1", // NO-BREAK SPACE
		"\u3000=1+1":                      "'\u3000=1+1", // IDEOGRAPHIC SPACE
		"\u200b=1+1":                      "'\u200b=1+1", // ZERO WIDTH SPACE
		"\ufeff@SUM(A1)":                  "'\ufeff@SUM(A1)",
		"\u202e+cmd":                      "'\u202e+cmd",
		"\x00-2":                          "'\x00-2",
		"\t=1":                            "'\t=1",
		"\r\n=1":                          "'\r\n=1",
		"＝1+1":                            "'＝1+1",
		"－1":                              "'－1",
		"patients/2025/xray 01.png":       "patients/2025/xray 01.png",
		"Mozilla/5.0 (X11; Linux x86_64)": "Mozilla/5.0 (X11; Linux x86_64)",
		"":                                "",
		"   ":                             "   ",
		"a=b":                             "a=b",
		"{\"reason\":\"-\"}":              "{\"reason\":\"-\"}",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}
