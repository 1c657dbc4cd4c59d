package mediamigration

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
)

// Resource types of the clinic app's storages: MediaCloudinaryStorage (the default storage) is image,
// RawMediaCloudinaryStorage is raw, VideoMediaCloudinaryStorage is video.
const (
	Image = "image"
	Raw   = "raw"
	Video = "video"
)

// Naming is how the clinic app, through django-cloudinary-storage 0.3.0 and pycloudinary, turns a stored
// FileField value into the Cloudinary asset it requests:
//
//	name      = PREFIX + value   (MediaCloudinaryStorage._prepend_prefix: PREFIX is CLOUDINARY_STORAGE['PREFIX'],
//	                              else MEDIA_URL, with its leading "/" dropped and a trailing "/" added; a value
//	                              that already starts with it is left alone)
//	URL       = https://res.cloudinary.com/<cloud>/<resource type>/upload/v1/<name, percent-encoded>
//	public id = name without its extension for image and video (Cloudinary reads the extension of the URL as
//	            the delivery format), name as it is for raw
//
// The path is kept exactly, spaces included.
type Naming struct {
	Prefix string
	// Tag is the app's MEDIA_TAG, put on every upload.
	Tag string
	// RawColumns are the "table.column" FileFields stored with RawMediaCloudinaryStorage.
	RawColumns []string
}

// Name is the storage name the app builds its URL from: the value with backslashes as slashes and the
// prefix prepended unless already there.
func (n Naming) Name(value string) string {
	name := strings.ReplaceAll(value, `\`, "/")
	prefix := strings.TrimLeft(n.Prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if !strings.HasPrefix(name, prefix) {
		name = prefix + name
	}
	return name
}

// ResourceType is the resource type of the storage a column uses.
func (n Naming) ResourceType(column string) string {
	for _, c := range n.RawColumns {
		if c == column {
			return Raw
		}
	}
	return Image
}

// Asset is where a stored value lives in Cloudinary.
type Asset struct {
	ResourceType string `json:"resource_type"`
	PublicID     string `json:"public_id"`
}

// AssetFor is the asset the app requests for value in a column of resourceType.
func (n Naming) AssetFor(value, resourceType string) Asset {
	return Asset{ResourceType: resourceType, PublicID: PublicIDOf(n.Name(value), resourceType)}
}

// PublicIDOf is the public id of a storage name: without its extension for image and video, as it is for raw.
func PublicIDOf(name, resourceType string) string {
	if resourceType == Raw {
		return name
	}
	return strings.TrimSuffix(name, path.Ext(name))
}

// imageFormats are the extensions Cloudinary accepts as image assets and delivers in that format
// (Cloudinary's "Supported image formats"; PDF is an image asset in Cloudinary).
var imageFormats = map[string]bool{"jpg": true, "jpeg": true, "jpe": true, "png": true, "gif": true, "webp": true,
	"bmp": true, "tif": true, "tiff": true, "ico": true, "svg": true, "pdf": true, "heic": true, "heif": true,
	"avif": true, "jp2": true, "jxr": true, "wdp": true, "hdp": true, "psd": true, "eps": true, "ai": true, "tga": true}

// videoFormats are the extensions Cloudinary accepts as video (and audio) assets.
var videoFormats = map[string]bool{"mp4": true, "mov": true, "webm": true, "ogv": true, "avi": true, "mkv": true,
	"flv": true, "wmv": true, "m3u8": true, "3gp": true, "mpeg": true, "mp3": true, "wav": true, "ogg": true, "m4a": true,
	"aac": true, "flac": true}

// forbiddenInPublicID are the characters Cloudinary documents as not allowed in a public id.
const forbiddenInPublicID = `?&#\%<>+`

// Problem says why the app's request for a stored value cannot resolve, whatever is uploaded, and what to
// do; "" when nothing in the value itself prevents it.
func (n Naming) Problem(value, resourceType string) (reason, fix string) {
	name := n.Name(value)
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	switch {
	case strings.ContainsAny(name, forbiddenInPublicID):
		return fmt.Sprintf("the name contains one of %s, which Cloudinary public ids cannot contain", forbiddenInPublicID),
			"rename the file and update the row to a name without those characters, then migrate again"
	case strings.TrimSpace(name) != name || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return "the name begins or ends with a space or slash, or has an empty folder, which a Cloudinary public id cannot",
			"rename the file and update the row, then migrate again"
	case slices.ContainsFunc(strings.Split(name, "/"), func(seg string) bool { return seg == "." || seg == ".." }):
		return "the name has a \".\" or \"..\" folder, which the app's URL loses (clients collapse dot segments)",
			"rename the file and update the row to a plain path under MEDIA_ROOT, then migrate again"
	case strings.ContainsFunc(name, unicode.IsControl):
		return "the name contains control characters", "rename the file and update the row, then migrate again"
	case len(PublicIDOf(name, resourceType)) > 255:
		return "the public id would be longer than Cloudinary's 255 characters", "shorten the file name and update the row"
	case resourceType == Image && !imageFormats[ext]:
		return fmt.Sprintf("a %q file cannot be an image asset, and this field's storage (MediaCloudinaryStorage) serves it only as one", ext),
			"give the field storage=RawMediaCloudinaryStorage() in the app and add the column to MEDIA_RAW_COLUMNS, or convert the file to PDF/an image and update the row"
	case resourceType == Video && !videoFormats[ext]:
		return fmt.Sprintf("a %q file cannot be a video asset, and this field's storage serves it only as one", ext),
			"store the field with RawMediaCloudinaryStorage in the app and add the column to MEDIA_RAW_COLUMNS"
	}
	return "", ""
}

// typeForUnreferenced is the resource type of a file no configured column references: the app never links
// to it, so it goes where Cloudinary can take it (image if it is one, raw otherwise) and keeps its bytes.
func typeForUnreferenced(rel string) string {
	if imageFormats[strings.ToLower(strings.TrimPrefix(path.Ext(rel), "."))] {
		return Image
	}
	return Raw
}
