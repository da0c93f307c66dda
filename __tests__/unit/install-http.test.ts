import { describe, expect, it } from 'vitest';

import { safeUrl } from '../../src/install/http.js';

describe('safeUrl', () => {
  it('drops the query, where signed URLs carry credentials', () => {
    expect(safeUrl('https://objects.example.com/buildx?X-Amz-Signature=abc&token=t')).toBe(
      'https://objects.example.com/buildx',
    );
  });
});
