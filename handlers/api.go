package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxJSONBody bounds API request bodies; none of ours needs more.
const maxJSONBody = 1 << 20

// decodeJSON reads one JSON object into v. Malformed JSON, unknown fields, wrong types and trailing data are
// 400 bad_request; checking values (422) is the caller's job.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Errorf(CodeBadRequest, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var maxErr *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return Errorf(CodeBadRequest, "request body is empty; send a JSON object")
		case errors.As(err, &typeErr):
			return &Error{Code: CodeBadRequest, Field: typeErr.Field, Message: fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type)}
		case errors.As(err, &maxErr):
			return Errorf(CodeTooLarge, "request body is larger than %d bytes", maxJSONBody)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return Errorf(CodeBadRequest, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return Errorf(CodeBadRequest, "malformed JSON: %s", err.Error())
	}
	if dec.More() {
		return Errorf(CodeBadRequest, "request body must hold exactly one JSON object")
	}
	return nil
}
