package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned for a row that does not exist.
var ErrNotFound = errors.New("not found")

// Token is an API token as listed: never the secret itself, which is only
// known when it is created.
type Token struct {
	ID       int64
	Name     string
	Created  time.Time
	LastUsed time.Time // zero if never used
}

// AddToken stores a new token under name. Only the SHA-256 of secret is
// kept, so a copy of the database gives no usable token.
func (s *Store) AddToken(ctx context.Context, name, secret string, now time.Time) (Token, error) {
	if name == "" || secret == "" {
		return Token{}, errors.New("store: add token: empty name or secret")
	}
	h := sha256.Sum256([]byte(secret))
	res, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (name, hash, created_ns) VALUES (?, ?, ?)`,
		name, h[:], now.UnixNano())
	if err != nil {
		return Token{}, fmt.Errorf("store: add token: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Token{}, fmt.Errorf("store: add token: %w", err)
	}
	return Token{ID: id, Name: name, Created: now.UTC()}, nil
}

// Tokens lists the tokens, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_ns, last_used_ns FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created, used int64
		if err := rows.Scan(&t.ID, &t.Name, &created, &used); err != nil {
			return nil, fmt.Errorf("store: tokens: %w", err)
		}
		t.Created = time.Unix(0, created).UTC()
		if used != 0 {
			t.LastUsed = time.Unix(0, used).UTC()
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	return out, nil
}

// DeleteToken revokes token id; ErrNotFound if there is none.
func (s *Store) DeleteToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete token: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: delete token %d: %w", id, ErrNotFound)
	}
	return nil
}

// CheckToken reports which token secret is, and records its use. It
// returns ErrNotFound for an unknown or revoked secret.
func (s *Store) CheckToken(ctx context.Context, secret string, now time.Time) (Token, error) {
	h := sha256.Sum256([]byte(secret))
	var t Token
	var created int64
	err := s.db.QueryRowContext(ctx, `UPDATE api_tokens SET last_used_ns = ? WHERE hash = ?
		RETURNING id, name, created_ns`, now.UnixNano(), h[:]).Scan(&t.ID, &t.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("store: check token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: check token: %w", err)
	}
	t.Created, t.LastUsed = time.Unix(0, created).UTC(), now.UTC()
	return t, nil
}
