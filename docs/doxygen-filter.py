#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for uvgo's public headers.

The headers keep plain C comments; the convention (docs/README.md) is that
every public declaration has a comment block right before it, with its
thread contract and @return list. This filter shows doxygen those comments
as documentation, so that its WARN_IF_UNDOCUMENTED check means "a public
name without a comment right before it":

- the file's first comment becomes the file's documentation (@file);
- a comment block directly followed by a declaration (no blank line)
  documents it; when several declarations follow one comment without a
  blank line (retain/release pairs, a macro and its _at function, struct
  fields under one field comment), each gets that comment;
- a comment after code on the same line documents that member (/**<);
- comment text is escaped so doxygen takes it as plain text (backslashes,
  <, >, &, #, %, $, and @ other than @return); markdown is off.
Comments followed by a blank line (section headings) stay plain comments.
Usage: doxygen-filter.py HEADER (writes the filtered text to stdout).
"""
import re
import sys

DECL_START = re.compile(r'(UVGO_EXTERN\b|#\s*define\b|typedef\b)')
PRIVATE_FIELD = re.compile(r'^\s+[A-Za-z_][\w\s\*]*\b\w+_(\[\w*\])?;\s*$')
PRIVATE_MACRO = re.compile(r'^#\s*define\s+\w+_\b')


def escape(text):
    out = text.replace('\\', '\\\\')
    for ch in '<>&#%$':
        out = out.replace(ch, '\\' + ch)
    return re.sub(r'@(?!return\b)', r'\\@', out)


def escape_comment_part(line):
    """Escape up to the closing */ (if any); the code after it stays."""
    k = line.find('*/')
    if k < 0:
        return escape(line), False
    return escape(line[:k]) + line[k:], True


class Filter:
    def __init__(self, lines):
        self.src = lines
        self.out = []
        self.in_trailing = False  # inside a multi-line member comment

    def code_line(self, line):
        """A line of code, maybe with a member comment after the code."""
        if self.in_trailing:
            text, closed = escape_comment_part(line)
            self.in_trailing = not closed
            self.out.append(text)
            return
        m = re.match(r'^(\s*[^\s/*].*?)/\*(?!\*)(.*)$', line)
        if m is None or m.group(1).count('"') % 2 == 1:
            # Names ending in '_' are private by convention (uvgo_wg's q_,
            # UVGO_AT_): documented as such, so they never count as missing.
            if PRIVATE_FIELD.match(line):
                line += ' /**< Private. */'
            elif PRIVATE_MACRO.match(line):
                self.out.append('/** Private. */')
            self.out.append(line)
            return
        text, closed = escape_comment_part(m.group(2))
        self.in_trailing = not closed
        self.out.append(m.group(1) + '/**<' + text)

    def comment_end(self, i, col):
        j = i
        while '*/' not in self.src[j][(col + 2) if j == i else 0:]:
            j += 1
        return j

    def run(self):
        src, n, i = self.src, len(self.src), 0
        while i < n:
            line = src[i]
            stripped = line.lstrip()
            col = len(line) - len(stripped)
            if self.in_trailing or not stripped.startswith('/*') or \
                    stripped.startswith('/**'):
                self.code_line(line)
                i += 1
                continue
            j = self.comment_end(i, col)
            block = src[i:j + 1]
            nxt = src[j + 1] if j + 1 < n else ''
            is_file = i == 0
            documents = nxt.strip() != '' and not nxt.lstrip().startswith('/*')
            if not (is_file or documents):
                self.out.extend(block)
                i = j + 1
                continue
            body = [block[0][col + 2:]] + block[1:]
            text = [escape_comment_part(b)[0] for b in body]
            if is_file:  # '@file' with no name: this file, before the */
                k = text[-1].rfind('*/')
                text[-1] = text[-1][:k] + '@file ' + text[-1][k:]
            text[0] = line[:col] + '/**' + text[0]
            self.out.extend(text)
            i = j + 1
            if is_file:
                continue
            oneline = ' '.join(b.strip().lstrip('*').strip() for b in body)
            oneline = escape(oneline.replace('*/', '').strip())
            # Declarations that follow without a blank line share the doc:
            # top-level ones (a retain/release pair, a macro and its _at
            # function), and struct fields after a comment that itself
            # documents a field (never the fields of a documented struct:
            # those need their own comments).
            first = True
            fields = src[i][:1] in (' ', '\t') if i < n else False
            stmt_start = True
            while i < n and src[i].strip() != '' and \
                    not src[i].lstrip().startswith('/*'):
                cur = src[i]
                if DECL_START.match(cur) and not first and \
                        not self.in_trailing:
                    self.out.append('/** ' + oneline + ' */')
                    self.code_line(cur)
                elif fields and not first and stmt_start and \
                        not self.in_trailing and '/*' not in cur and \
                        cur[:1] in (' ', '\t') and cur.rstrip().endswith(';'):
                    self.out.append(cur + ' /**< ' + oneline + ' */')
                else:
                    self.code_line(cur)
                first = False
                code = cur.split('/*')[0].rstrip()
                stmt_start = code == '' or code.endswith((';', '{', '}'))
                i += 1
        sys.stdout.write('\n'.join(self.out))


if __name__ == '__main__':
    with open(sys.argv[1], encoding='utf-8') as f:
        Filter(f.read().split('\n')).run()
