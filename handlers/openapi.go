package handlers

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/uscpis/pisbackup/internal/auth"
)

// apiPrefix is where the JSON API lives; openapi.json documents every route under it.
const apiPrefix = "/api/v1/"

var pathParam = regexp.MustCompile(`\{([a-zA-Z_]+)\.{0,3}\}`)

// openAPI builds the OpenAPI 3.1 document from the route table itself, so the documented x-min-role is by
// construction the role the server enforces.
func (h *Handlers) openAPI(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, OpenAPI(h.Routes(), h.Cfg.BaseURL.String()))
	return nil
}

// OpenAPI describes every route under /api/v1 in routes.
func OpenAPI(routes []Route, server string) map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		method, p, ok := strings.Cut(rt.Pattern, " ")
		if !ok || !strings.HasPrefix(p, apiPrefix) {
			continue
		}
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(method)] = operation(rt, method, p)
	}
	errRef := map[string]any{"content": map[string]any{"application/json": map[string]any{
		"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "pisbackup API", "version": "1",
			"description": "Backups of the USC-PIS clinic database and media. Authenticate with `Authorization: Bearer pisb_…` " +
				"(an API token) or a browser session. Each operation's x-min-role is the least role that may call it."},
		"servers": []any{map[string]any{"url": server}},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "an API token, pisb_…"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie},
			},
			"schemas": map[string]any{"Error": map[string]any{"type": "object", "required": []string{"error"},
				"properties": map[string]any{"error": map[string]any{"type": "object", "required": []string{"code", "message"},
					"properties": map[string]any{"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"},
						"field": map[string]any{"type": "string"}}}}}},
			"responses": map[string]any{"Error": errRef},
		},
	}
}

func operation(rt Route, method, p string) map[string]any {
	errResp := map[string]any{"$ref": "#/components/responses/Error"}
	op := map[string]any{
		"operationId": operationID(method, p), "summary": rt.Summary, "x-min-role": rt.Role.String(),
		"responses": map[string]any{"2XX": map[string]any{"description": "success"}},
	}
	resp := op["responses"].(map[string]any)
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(p, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		resp["404"] = errResp
	}
	for _, q := range rt.Query {
		params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		resp["422"] = errResp
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.Request != nil {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"example": rt.Request}}}
		resp["400"], resp["422"] = errResp, errResp
	}
	if rt.Role == auth.Public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}}
		resp["401"], resp["403"] = errResp, errResp
	}
	return op
}

// operationID turns "GET /api/v1/backups/{id}/download" into "get_backups_id_download".
func operationID(method, p string) string {
	p = strings.TrimPrefix(p, apiPrefix)
	p = strings.NewReplacer("{", "", "}", "", "$", "", ".", "_", "-", "_").Replace(p)
	return strings.ToLower(method) + "_" + strings.ReplaceAll(strings.Trim(p, "/"), "/", "_")
}
