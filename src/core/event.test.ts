import { describe, expect, it } from 'vitest';
import { concernsVm, normaliseAzureType } from './event.js';

describe('normaliseAzureType', () => {
  it('maps every Azure type, including the 2016 preview Pause', () => {
    expect(['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate', 'Pause'].map(normaliseAzureType)).toEqual(
      ['freeze', 'reboot', 'redeploy', 'preempt', 'terminate', 'freeze'],
    );
  });
  it('returns undefined for unknown or differently cased types', () => {
    expect(normaliseAzureType('Completed')).toBeUndefined();
    expect(normaliseAzureType('reboot')).toBeUndefined();
  });
});

describe('concernsVm', () => {
  it('matches own name, ignoring case and the 2017-03-01 leading underscore', () => {
    expect(concernsVm({ resources: ['web-01', 'web-02'] }, 'web-02')).toBe(true);
    expect(concernsVm({ resources: ['_web-01'] }, 'WEB-01')).toBe(true);
  });
  it('does not match a sibling-only event', () => {
    expect(concernsVm({ resources: ['web-01'] }, 'web-011')).toBe(false);
    expect(concernsVm({ resources: [] }, 'web-01')).toBe(false);
  });
});
