export declare function runSeed(databaseUrl: string, data: { name: string; slug?: string }): Promise<{ id: string; name: string; slug: string }>;
export declare function slugFromName(name: string): string;
