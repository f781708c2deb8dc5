package webui

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kilnfw/kiln/store"
)

// tokenPrefix marks Kiln API tokens, so leaked ones are easy to grep for.
const tokenPrefix = "kiln_"

// maxTokens bounds the token list.
const maxTokens = 100

// TokenView is one entry of GET /api/v1/tokens; the secret is only ever
// shown in the answer to its creation.
type TokenView struct {
	ID       int64      `json:"id"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Token    string     `json:"token,omitempty"`
}

func tokenView(t store.Token) TokenView {
	v := TokenView{ID: t.ID, Name: t.Name, Created: t.Created}
	if !t.LastUsed.IsZero() {
		u := t.LastUsed
		v.LastUsed = &u
	}
	return v
}

// listTokens serves GET /api/v1/tokens.
func (s *Server) listTokens(c *gin.Context) error {
	if s.store == nil {
		return errNoStore
	}
	list, err := s.store.Tokens(c.Request.Context())
	if err != nil {
		return err
	}
	out := make([]TokenView, len(list))
	for i, t := range list {
		out[i] = tokenView(t)
	}
	return writeJSON(c, http.StatusOK, out)
}

// tokenRequest is the body of POST /api/v1/tokens.
type tokenRequest struct {
	Name string `json:"name"`
}

// createToken serves POST /api/v1/tokens.
func (s *Server) createToken(c *gin.Context) error {
	if s.store == nil {
		return errNoStore
	}
	var body tokenRequest
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Name == "" || utf8.RuneCountInString(body.Name) > 64 || !utf8.ValidString(body.Name) {
		return errorf(http.StatusBadRequest, "name is required (at most 64 characters)")
	}
	ctx := c.Request.Context()
	list, err := s.store.Tokens(ctx)
	if err != nil {
		return err
	}
	if len(list) >= maxTokens {
		return errorf(http.StatusConflict, "at most %d tokens; revoke one first", maxTokens)
	}
	secret := tokenPrefix + rand.Text() + rand.Text()
	t, err := s.store.AddToken(ctx, body.Name, secret, s.now())
	if err != nil {
		return err
	}
	s.event(ctx, "info", "auth", "token_created", "API token "+strconv.Quote(body.Name)+" created")
	v := tokenView(t)
	v.Token = secret
	return writeJSON(c, http.StatusCreated, v)
}

// deleteToken serves DELETE /api/v1/tokens/{id}.
func (s *Server) deleteToken(c *gin.Context) error {
	if s.store == nil {
		return errNoStore
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return errorf(http.StatusBadRequest, "id must be a positive integer, not %q", c.Param("id"))
	}
	err = s.store.DeleteToken(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no token %d", id)
	}
	if err != nil {
		return err
	}
	s.event(c.Request.Context(), "info", "auth", "token_revoked", "API token "+strconv.FormatInt(id, 10)+" revoked")
	c.Status(http.StatusNoContent)
	return nil
}
