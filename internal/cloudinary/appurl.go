package cloudinary

import (
	"fmt"

	"github.com/cloudinary/cloudinary-go/v2/asset"
	cldconfig "github.com/cloudinary/cloudinary-go/v2/config"
)

// AppURL is the delivery URL the clinic app requests for a storage name: django-cloudinary-storage's
// url(name) is pycloudinary's CloudinaryResource(name, default_resource_type=<storage type>).url, and
// cloudinary-go's asset package builds the same URL (https://res.cloudinary.com/<cloud>/<type>/upload/v1/
// <name percent-encoded, extension kept>; "v1" only when the name has a folder). No analytics query is added,
// as pycloudinary adds none to URLs built this way.
func AppURL(cloud, resourceType, name string) (string, error) {
	newMu.Lock()
	cfg, err := cldconfig.NewFromParams(cloud, "key", "secret")
	newMu.Unlock()
	if err != nil {
		return "", err
	}
	cfg.URL.Secure, cfg.URL.Analytics, cfg.URL.ForceVersion = true, false, true
	var a *asset.Asset
	switch resourceType {
	case "raw":
		a, err = asset.File(name, cfg)
	case "video":
		a, err = asset.Video(name, cfg)
	case "image":
		a, err = asset.Image(name, cfg)
	default:
		return "", fmt.Errorf("unknown resource type %q", resourceType)
	}
	if err != nil {
		return "", err
	}
	return a.String()
}
