/* SPDX-License-Identifier: MIT */
/* ctl_parse.c -- splitting a control line into verb, positional words and key=value options, and reading
 * a parsed command's words back.
 *
 * The parser copies the line once and cuts words in place, so words of a struct ctl_cmd need no
 * allocation each.  Quotes may open anywhere in a word (doc="layer 3" is the word `doc=layer 3`), as in a
 * shell, so users can quote the way they already do.  Everything a user can get wrong is refused with a
 * sentence that says where: this is the edge between people and the fabric, and it is fuzzed
 * (tests/fuzz_ctl.c).  It knows no verb: what a verb takes comes from the lookup it is handed, so it sits
 * below the verb table instead of calling back into it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl/ctlInt.h"
#include "core/text/text.h"

/* Cut the next word at *p into place (unquoting), leaving *p after it; NULL at the end of the line.
 * *dashdash: the word is a bare "--" (quoted, it is an ordinary word). */
static char *next_word(char **p, int *bad, bool *dashdash)
{
	char *s = *p, *out, *start;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	*dashdash = s[0] == '-' && s[1] == '-' && (s[2] == ' ' || s[2] == '\t' || s[2] == '\0');
	start = out = s;
	while (*s && *s != ' ' && *s != '\t') {
		if (*s != '"') {
			*out++ = *s++;
			continue;
		}
		for (s++; *s != '"'; s++) {
			if (!*s) {
				*bad = 1;
				return NULL;
			}
			if (*s == '\\' && (s[1] == 'n' || s[1] == 't')) {
				*out++ = *++s == 'n' ? '\n' : '\t';
				continue;
			}
			if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
				s++;
			*out++ = *s;
		}
		s++;
	}
	if (*s)
		s++;
	*out = '\0';
	*p = s;
	return start;
}

int ctl_parse_with(ctl_grammar_find *find, const char *line, size_t len, struct ctl_cmd *cmd, char *err,
		   size_t errlen)
{
	const struct ctl_grammar *g;
	char *p, *w;
	int bad = 0, rc;
	bool dd = false, after_dd = false;

	memset(cmd, 0, sizeof(*cmd)); /* a refused command holds nothing, so freeing it is always safe */
	if (len && line[len - 1] == '\n')
		len--;
	if (len > CTL_LINE_MAX)
		return text_say(err, errlen, -E2BIG, "the line is longer than %s bytes; give long values in a file instead",
				CTL_LINE_MAX_TEXT);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return text_say(err, errlen, -EINVAL, "the line holds a control character%s; send one command "
					"per line, in plain text", c == '\n' ? " (a second newline)" : "");
	}
	cmd->copy = malloc(len + 1);
	if (!cmd->copy)
		return text_say(err, errlen, -ENOMEM, "out of memory");
	memcpy(cmd->copy, line, len);
	cmd->copy[len] = '\0';
	p = cmd->copy;
	w = next_word(&p, &bad, &dd);
	if (w && strcmp(w, "json") == 0) {
		cmd->json = true;
		w = next_word(&p, &bad, &dd);
	}
	if (!w) {
		rc = text_say(err, errlen, -EINVAL, "%s",
			      bad ? "a quote is not closed" : "the line is empty; write a verb (try: help)");
		goto refuse;
	}
	g = find(w);
	if (!g) {
		rc = text_say(err, errlen, -EINVAL, "unknown verb '%.64s'; try: help", w);
		goto refuse;
	}
	cmd->verb = g->name;
	cmd->dashdash = -1;
	while ((w = next_word(&p, &bad, &dd)) != NULL) {
		char *eq = strchr(w, '=');
		if (cmd->argc + cmd->nopts >= CTL_ARGS_MAX) {
			rc = text_say(err, errlen, -EINVAL, "too many words (more than %s)", CTL_ARGS_MAX_TEXT);
			goto refuse;
		}
		if (dd && !after_dd) { /* the rest are a program's words, whatever they look like */
			after_dd = true;
			cmd->dashdash = cmd->argc;
			continue;
		}
		if (!after_dd && eq && eq != w && ctl_grammar_takes(g, w, (size_t)(eq - w))) {
			*eq = '\0';
			for (int i = 0; i < cmd->nopts; i++) {
				if (strcmp(cmd->opt_key[i], w) == 0) {
					rc = text_say(err, errlen, -EINVAL, "option %s= is given twice", w);
					goto refuse;
				}
			}
			cmd->opt_key[cmd->nopts] = w;
			cmd->opt_val[cmd->nopts++] = eq + 1;
		} else {
			cmd->argv[cmd->argc++] = w;
		}
	}
	if (bad) {
		rc = text_say(err, errlen, -EINVAL, "a quote is not closed");
		goto refuse;
	}
	if (cmd->argc < g->min_args || cmd->argc > g->max_args) {
		rc = text_say(err, errlen, -EINVAL, "wrong number of arguments; usage: %s", g->usage);
		goto refuse;
	}
	return 0;
refuse: /* after the sentence: it may quote a word of the copy */
	ctl_cmd_free(cmd);
	return rc;
}

bool ctl_grammar_takes(const struct ctl_grammar *g, const char *key, size_t keylen)
{
	for (const char *p = g->opts; *p;) {
		size_t n = strcspn(p, ",");
		if (n == keylen && strncmp(p, key, keylen) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

void ctl_cmd_free(struct ctl_cmd *cmd)
{
	free(cmd->copy);
	cmd->copy = NULL;
}

const char *ctl_opt(const struct ctl_cmd *cmd, const char *key)
{
	for (int i = 0; i < cmd->nopts; i++)
		if (strcmp(cmd->opt_key[i], key) == 0)
			return cmd->opt_val[i];
	return NULL;
}

int ctl_word_mode(const char *word, uint32_t *mode)
{
	char *end;
	unsigned long m = strtoul(word, &end, 8);

	if (end == word || *end || word[0] == '-' || word[0] == '+' || m > 0777)
		return -EINVAL;
	*mode = (uint32_t)m;
	return 0;
}

int ctl_word_u64(const char *word, uint64_t *n)
{
	char *end;

	*n = strtoull(word, &end, 10);
	return end == word || *end || word[0] == '-' ? -EINVAL : 0;
}
