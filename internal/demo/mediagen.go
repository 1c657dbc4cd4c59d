package demo

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strconv"
)

// fakePDF returns a small PDF-shaped document: a real header, one text
// stream of n lines and a trailer. It is not meant to render perfectly, only
// to look like a PDF to content sniffers and to have a realistic size
// (~50 bytes per line plus ~250 bytes of structure).
func fakePDF(title string, n int, r *rand.Rand) []byte {
	var body bytes.Buffer
	fmt.Fprintf(&body, "BT /F1 12 Tf 72 720 Td (%s) Tj ET\n", title)
	for i := range n {
		fmt.Fprintf(&body, "BT 72 %d Td (%s) Tj ET\n", 700-12*(i%55), pick(r, diagnoses))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	b.WriteString("1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	b.WriteString("2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n")
	b.WriteString("3 0 obj << /Type /Page /Parent 2 0 R /Contents 4 0 R >> endobj\n")
	fmt.Fprintf(&b, "4 0 obj << /Length %d >> stream\n", body.Len())
	b.Write(body.Bytes())
	b.WriteString("endstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	return b.Bytes()
}

// fakeImage draws a noisy gradient (noise keeps the encoded size in the
// few-KB range instead of compressing to nothing).
func fakeImage(r *rand.Rand, asPNG bool) ([]byte, error) {
	const w, h = 64, 40
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	base := uint8(r.IntN(200))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{base + uint8(x), uint8(4 * y), uint8(r.IntN(64)), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if asPNG {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	}
	return buf.Bytes(), err
}

// fakeCSV is a monthly-report style export.
func fakeCSV(r *rand.Rand) []byte {
	var b bytes.Buffer
	b.WriteString("date,consultations,dental,certificates_issued,top_diagnosis\n")
	for day := 1; day <= 31; day++ {
		fmt.Fprintf(&b, "2025-03-%02d,%d,%d,%d,%q\n", day, 20+r.IntN(60), r.IntN(15), r.IntN(10), pick(r, diagnoses))
	}
	return b.Bytes()
}

// fakeDSStore mimics the macOS Finder file that ends up in uploaded trees.
func fakeDSStore(r *rand.Rand) []byte {
	b := make([]byte, 512)
	copy(b, "\x00\x00\x00\x01Bud1")
	for i := 16; i < len(b); i += 7 {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// fakeSignature returns a tiny PNG-looking blob for the signature column;
// only the magic number is real, which is all a viewer check would look at.
func fakeSignature(r *rand.Rand) []byte {
	b := make([]byte, 8+48+r.IntN(48))
	copy(b, "\x89PNG\r\n\x1a\n")
	for i := 8; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
